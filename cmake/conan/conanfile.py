# Conan 2 recipe: drives the project's own CMake install, library only.
#   conan create cmake/conan --build=missing                   (run from the SDK root)
#   conan create cmake/conan --build=missing -o "&:shared=True"
# `conan create` then builds and runs test_package/ against the package.
import os

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy


class EnosDeviceConan(ConanFile):
    name = "enos-device"
    version = "0.1.0"
    license = "MIT"
    description = "C++ device SDK for the EnOS IoT Hub"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}
    default_options = {"shared": False, "fPIC": True}

    def export_sources(self):
        # The recipe lives in cmake/conan; the sources are the SDK root two levels up.
        root = os.path.join(self.recipe_folder, "..", "..")
        for pattern in ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*"):
            copy(self, pattern, root, self.export_sources_folder)

    def configure(self):
        # A shared library is position-independent anyway.
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def requirements(self):
        self.requires("paho-mqtt-cpp/1.2.0")
        self.requires("mbedtls/2.28.4")
        self.requires("zlib/1.3.1")
        self.requires("rapidjson/cci.20230929", transitive_headers=True)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        CMakeDeps(self).generate()
        # CMakeToolchain turns the "shared" option into BUILD_SHARED_LIBS.
        toolchain = CMakeToolchain(self)
        for part in ("TESTS", "EXAMPLES", "TOOLS", "BENCH"):
            toolchain.variables[f"ENOS_DEVICE_BUILD_{part}"] = False
        toolchain.variables["ENOS_DEVICE_INSTALL"] = True
        toolchain.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def package_info(self):
        # Consumers use the package's own EnosDeviceConfig.cmake (targets enos::device, enos::device_core).
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs.append(os.path.join("lib", "cmake", "EnosDevice"))
        # For the other generators (PkgConfigDeps, ...).
        self.cpp_info.set_property("pkg_config_name", "enos-device")
        self.cpp_info.libs = ["enos-device"]
        if self.settings.os == "Linux":
            self.cpp_info.system_libs = ["pthread"]
