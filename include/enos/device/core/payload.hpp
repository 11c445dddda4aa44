// Payload encoders and decoders for every method of the EnOS device protocol (docs/protocol.md §2–§5).
//
// Requests: one value type per upstream method in namespace up (payload/request.hpp explains them).
// `Status encode(std::string& out, std::string_view id, const R& request)` replaces the content of
// `out` with the JSON payload. It checks the platform limits locally (512 KB, 200 attributes or
// tags, 1000 registrations, NaN/infinity, invalid UTF-8, empty identifiers) and on error leaves `out`
// empty with an Error that names the field. Reusing `out` makes encoding allocation-free once it has
// grown.
//
// Decoders: `Result<T> decode_X(std::string_view json)` never throw; they refuse input of 512 KB or
// more, malformed JSON, wrong types and missing fields with errc::input_too_large, malformed_json,
// wrong_type and missing_field, the detail naming the field.
#pragma once

#include <enos/device/core/payload/attributes.hpp>
#include <enos/device/core/payload/downstream.hpp>
#include <enos/device/core/payload/envelope.hpp>
#include <enos/device/core/payload/gateway.hpp>
#include <enos/device/core/payload/measurepoints.hpp>
#include <enos/device/core/payload/ota.hpp>
#include <enos/device/core/payload/reports.hpp>
#include <enos/device/core/payload/request.hpp>
