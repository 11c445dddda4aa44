// A private temporary directory for one test, removed with everything in it at the end of the test.
#pragma once

#include <string>
#include <string_view>

namespace enos::test {

class TempDir {
public:
    explicit TempDir(std::string_view prefix = "enos-test");
    ~TempDir();
    TempDir(TempDir&& other) noexcept;
    TempDir& operator=(TempDir&& other) noexcept;
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    /// path() + "/" + name
    std::string file(std::string_view name) const;

private:
    std::string path_;
};

/// The whole content of `path`; throws if it cannot be read.
std::string read_file(const std::string& path);
/// Replaces the content of `path` with `bytes`.
void write_file(const std::string& path, std::string_view bytes);

} // namespace enos::test
