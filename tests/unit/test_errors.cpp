#include <enos/device/core/result.hpp>

#include "support/catch.hpp"

using namespace enos::device;

TEST_CASE("errc converts to std::error_code with readable messages", "[unit]") {
    std::error_code ec = errc::bad_credentials;
    CHECK(ec.category().name() == std::string("enos.device"));
    CHECK(ec.message().find("bad credentials") != std::string::npos);
    CHECK(ec == errc::bad_credentials);
    CHECK(ec != errc::not_authorized);
}

TEST_CASE("cloud codes map to the cloud category, 200 to no error", "[unit]") {
    CHECK_FALSE(make_cloud_error(200));
    auto ec = make_cloud_error(1260);
    CHECK(ec.category().name() == std::string("enos.cloud"));
    CHECK(ec.value() == 1260);
    CHECK(ec.message().find("method") != std::string::npos);
    CHECK(make_cloud_error(2042).message() == "application-defined failure");
    CHECK(make_cloud_error(999).message() == "EnOS error code 999");
}

TEST_CASE("Result carries a value or an error with detail", "[unit]") {
    Result<int> good = 42;
    REQUIRE(good);
    CHECK(*good == 42);
    CHECK_FALSE(good.error().code);

    Result<int> bad{errc::missing_field, "params.time"};
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == errc::missing_field);
    CHECK(bad.error().message() == "mandatory field missing: params.time");
    CHECK(bad.value_or(7) == 7);

    Status fine;
    CHECK(fine.ok());
    Status failed = Error{errc::timeout};
    CHECK(failed.code() == errc::timeout);
}
