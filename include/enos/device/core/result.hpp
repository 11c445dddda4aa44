// Result<T>: the value of a fallible call, or an Error that says what went wrong. No exception
// crosses the public API; every fallible function returns one of these.
#pragma once

#include <enos/device/core/errors.hpp>

#include <cassert>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace enos::device {

/// An error code plus a detail that names what was wrong ("field 'params.time' must be an
/// integer"). The detail never contains secrets.
struct Error {
    std::error_code code;
    std::string detail;

    Error() = default;
    explicit Error(std::error_code c, std::string d = {}) : code(c), detail(std::move(d)) {}
    explicit Error(errc e, std::string d = {}) : code(make_error_code(e)), detail(std::move(d)) {}

    /// "category message: detail", for logs and user-facing text.
    std::string message() const {
        std::string text = code.message();
        if (!detail.empty()) {
            text += ": ";
            text += detail;
        }
        return text;
    }
};

inline bool operator==(const Error& e, errc c) noexcept { return e.code == make_error_code(c); }
inline bool operator==(const Error& e, std::error_code c) noexcept { return e.code == c; }

template <class T>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<std::decay_t<T>, Error>, "Result<Error> is ambiguous");

public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}
    Result(errc e, std::string detail = {}) : Result(Error{e, std::move(detail)}) {}
    Result(std::error_code c, std::string detail = {}) : Result(Error{c, std::move(detail)}) {}

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return checked(); }
    const T& value() const& { return const_cast<Result*>(this)->checked(); }
    T&& value() && { return std::move(checked()); }
    T& operator*() & { return checked(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &checked(); }
    const T* operator->() const { return &value(); }

    template <class U>
    T value_or(U&& fallback) const& {
        return ok() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback));
    }

    /// The error; a default (empty) Error when ok().
    const Error& error() const noexcept {
        static const Error none;
        return ok() ? none : std::get<1>(state_);
    }
    std::error_code code() const noexcept { return error().code; }

private:
    T& checked() {
        assert(ok() && "Result::value() called on an error");
        return std::get<0>(state_);
    }

    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}
    Result(errc e, std::string detail = {}) : error_(e, std::move(detail)) {}
    Result(std::error_code c, std::string detail = {}) : error_(c, std::move(detail)) {}

    bool ok() const noexcept { return !error_.code; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const noexcept { return error_; }
    std::error_code code() const noexcept { return error_.code; }

private:
    Error error_;
};

using Status = Result<void>;

} // namespace enos::device
