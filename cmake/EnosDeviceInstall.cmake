# Placeholder filled by the packaging work: install rules, EnosDeviceConfig.cmake, vcpkg port, Conan.
