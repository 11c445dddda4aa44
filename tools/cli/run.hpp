// The commands of enos-device that connect: one request and its reply, or serve.
#pragma once

#include "args.hpp"

namespace enos::cli {

/// Connects, sends the request of args.command, prints the outcome; returns the exit code.
int run_request(const Args& args);

/// Connects and answers commands until SIGINT/SIGTERM (or --for-ms); returns the exit code.
/// Blocks SIGINT and SIGTERM in the calling thread first, so it must run before other threads start.
int run_serve(const Args& args);

} // namespace enos::cli
