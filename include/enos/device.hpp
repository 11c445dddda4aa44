// Everything of the EnOS device SDK in one include: the protocol core and the client.
#pragma once

#include <enos/device/core.hpp>

#include <enos/device/client.hpp>
#include <enos/device/commands.hpp>
#include <enos/device/connection.hpp>
#include <enos/device/log.hpp>
#include <enos/device/options.hpp>
#include <enos/device/queue.hpp>
#include <enos/device/stats.hpp>
