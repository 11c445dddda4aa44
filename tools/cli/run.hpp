// The commands of enos-device that connect: one request and its reply, or serve.
#pragma once

#include "args.hpp"

#include <enos/device/client/device_client.hpp>

#include <optional>
#include <string>

namespace enos::cli {

// Shared by the request commands (run.cpp) and the gateway and integration commands (gateway.cpp).

/// Prints a usage error for a bad operand (never a secret) and returns exit_usage.
int bad_operand(const Args& args, const std::string& detail);
/// The client options of the identity options; for `integration`, the product's channel.
device::ClientOptions client_options(const Args& args);
/// Prints a failed outcome (a cloud code also as a number); returns its exit code.
int report_error(const Args& args, const device::Error& error);
/// Prints a reply, or the error; returns the exit code.
int report_response(const Args& args, const device::Result<device::Response>& response);
/// Creates and connects a client for one command; on failure prints why and sets `exit_code`.
std::optional<device::DeviceClient> connect_client(const Args& args, device::ClientOptions options,
                                                   int& exit_code);

/// register, topo, sub-login, sub-logout, post-batch and integration: connects, sends, prints.
int run_gateway(const Args& args);

/// Connects, sends the request of args.command, prints the outcome; returns the exit code.
int run_request(const Args& args);

/// Connects and answers commands until SIGINT/SIGTERM (or --for-ms); returns the exit code.
/// Blocks SIGINT and SIGTERM in the calling thread first, so it must run before other threads start.
int run_serve(const Args& args);

} // namespace enos::cli
