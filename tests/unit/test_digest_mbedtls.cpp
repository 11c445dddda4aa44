// The header-only digests against the standard test vectors and, over many lengths and split
// points, against mbedTLS.
#include <enos/device/core/detail/hex.hpp>
#include <enos/device/core/detail/md5.hpp>
#include <enos/device/core/detail/sha1.hpp>
#include <enos/device/core/detail/sha256.hpp>
#include <enos/device/core/sign.hpp>

#include "support/catch.hpp"

#include <mbedtls/md.h>

#include <string>
#include <vector>

using namespace enos::device;

namespace {

std::string mbedtls_hex(mbedtls_md_type_t type, std::string_view data) {
    const mbedtls_md_info_t* info = mbedtls_md_info_from_type(type);
    REQUIRE(info != nullptr);
    std::vector<unsigned char> out(mbedtls_md_get_size(info));
    REQUIRE(mbedtls_md(info, reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data()) == 0);
    std::string hex;
    detail::append_hex(hex, out.data(), out.size(), false);
    return hex;
}

/// Deterministic bytes covering all 256 values.
std::string test_bytes(std::size_t n) {
    std::string s(n, '\0');
    std::uint32_t x = 2463534242u;
    for (auto& c : s) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x & 0xff);
    }
    return s;
}

template <class Hash>
std::string streamed_hex(std::string_view data, std::size_t chunk) {
    Hash h;
    for (std::size_t i = 0; i < data.size(); i += chunk) h.update(data.substr(i, chunk));
    return detail::to_hex(h.finish(), false);
}

} // namespace

TEST_CASE("SHA-256 test vectors (FIPS 180-4 examples)", "[unit][digest]") {
    CHECK(hex_digest(SignMethod::sha256, "", false) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex_digest(SignMethod::sha256, "abc", false) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex_digest(SignMethod::sha256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", false) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(hex_digest(SignMethod::sha256, std::string(1000000, 'a'), false) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-1 test vectors (FIPS 180-4 examples)", "[unit][digest]") {
    CHECK(hex_digest(SignMethod::sha1, "", false) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(hex_digest(SignMethod::sha1, "abc", false) == "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(hex_digest(SignMethod::sha1, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", false) ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    CHECK(hex_digest(SignMethod::sha1, std::string(1000000, 'a'), true) == "34AA973CD4C4DAA4F61EEB2BDBAD27316534016F");
}

TEST_CASE("MD5 test suite (RFC 1321 appendix A.5)", "[unit][digest]") {
    CHECK(hex_digest(SignMethod::md5, "", false) == "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(hex_digest(SignMethod::md5, "a", false) == "0cc175b9c0f1b6a831c399e269772661");
    CHECK(hex_digest(SignMethod::md5, "abc", false) == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(hex_digest(SignMethod::md5, "message digest", false) == "f96b697d7cb7938d525a2f31aaf161d0");
    CHECK(hex_digest(SignMethod::md5, "abcdefghijklmnopqrstuvwxyz", false) == "c3fcd3d76192e4007dfb496cca67e13b");
    CHECK(hex_digest(SignMethod::md5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", false) ==
          "d174ab98d277d9f5a5611c2c9f419d9f");
    CHECK(hex_digest(SignMethod::md5,
                     "12345678901234567890123456789012345678901234567890123456789012345678901234567890", false) ==
          "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("digests agree with mbedTLS for every length 0..300", "[unit][digest]") {
    const std::string data = test_bytes(300);
    for (std::size_t n = 0; n <= data.size(); ++n) {
        INFO("length " << n);
        const std::string_view input(data.data(), n);
        REQUIRE(hex_digest(SignMethod::sha256, input, false) == mbedtls_hex(MBEDTLS_MD_SHA256, input));
        REQUIRE(hex_digest(SignMethod::sha1, input, false) == mbedtls_hex(MBEDTLS_MD_SHA1, input));
        REQUIRE(hex_digest(SignMethod::md5, input, false) == mbedtls_hex(MBEDTLS_MD_MD5, input));
    }
}

TEST_CASE("digests agree with mbedTLS around block boundaries and when fed in pieces", "[unit][digest]") {
    const std::string data = test_bytes(5000);
    const std::size_t lengths[] = {55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192, 193, 1000, 4096, 5000};
    const std::size_t chunks[] = {1, 3, 7, 55, 56, 63, 64, 65, 100};
    for (std::size_t n : lengths) {
        const std::string_view input(data.data(), n);
        const std::string sha256 = mbedtls_hex(MBEDTLS_MD_SHA256, input);
        const std::string sha1 = mbedtls_hex(MBEDTLS_MD_SHA1, input);
        const std::string md5 = mbedtls_hex(MBEDTLS_MD_MD5, input);
        for (std::size_t chunk : chunks) {
            INFO("length " << n << ", chunk " << chunk);
            REQUIRE(streamed_hex<detail::Sha256>(input, chunk) == sha256);
            REQUIRE(streamed_hex<detail::Sha1>(input, chunk) == sha1);
            REQUIRE(streamed_hex<detail::Md5>(input, chunk) == md5);
        }
    }
}

TEST_CASE("a hash object starts over after finish()", "[unit][digest]") {
    detail::Sha256 h;
    h.update("garbage that must not leak into the next digest");
    (void)h.finish();
    h.update("abc");
    CHECK(detail::to_hex(h.finish(), false) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("signatures agree with mbedTLS over the sign input", "[unit][digest][sign]") {
    const SignParams p{"123456", "tPbZGCdmaE", "KV315idW", "1548753362502"};
    const std::string input = sign_input(p, "M3yy874uGY8INjEGddTR");
    CHECK(sign(p, "M3yy874uGY8INjEGddTR", SignMethod::sha256, HexCase::lower) == mbedtls_hex(MBEDTLS_MD_SHA256, input));
    CHECK(sign(p, "M3yy874uGY8INjEGddTR", SignMethod::sha1, HexCase::lower) == mbedtls_hex(MBEDTLS_MD_SHA1, input));
    CHECK(sign(p, "M3yy874uGY8INjEGddTR", SignMethod::md5, HexCase::lower) == mbedtls_hex(MBEDTLS_MD_MD5, input));
}
