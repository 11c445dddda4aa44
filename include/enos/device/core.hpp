// The whole protocol core in one include: header-only, no I/O, no threads, no MQTT library (only the
// standard library and RapidJSON). Firmware with its own MQTT stack needs nothing else.
#pragma once

#include <enos/device/backoff.hpp>
#include <enos/device/credentials.hpp>
#include <enos/device/errors.hpp>
#include <enos/device/limits.hpp>
#include <enos/device/payload.hpp>
#include <enos/device/result.hpp>
#include <enos/device/sign.hpp>
#include <enos/device/topics.hpp>
#include <enos/device/value.hpp>
