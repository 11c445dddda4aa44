// Everything of the EnOS device SDK in one include: the protocol core and the client.
#pragma once

#include <enos/device/core.hpp>

#include <enos/device/client/device_client.hpp>
#include <enos/device/client/commands.hpp>
#include <enos/device/client/connection.hpp>
#include <enos/device/client/log.hpp>
#include <enos/device/client/options.hpp>
#include <enos/device/client/ota.hpp>
#include <enos/device/client/queue.hpp>
#include <enos/device/client/stats.hpp>
#include <enos/device/client/sub_device.hpp>
#include <enos/device/client/sub_device_session.hpp>
#include <enos/device/client/version.hpp>
