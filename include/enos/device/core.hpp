// The whole protocol core in one include: header-only, no I/O, no threads, no MQTT library (only the
// standard library and RapidJSON). Firmware with its own MQTT stack needs nothing else.
#pragma once

#include <enos/device/core/backoff.hpp>
#include <enos/device/core/credentials.hpp>
#include <enos/device/core/errors.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/payload.hpp>
#include <enos/device/core/result.hpp>
#include <enos/device/core/sign.hpp>
#include <enos/device/core/topics.hpp>
#include <enos/device/core/value.hpp>
#include <enos/device/core/version.hpp>
