// Free TCP ports on 127.0.0.1, so tests never depend on a fixed port.
#pragma once

#include <cstdint>

namespace enos::test {

/// A port that was free a moment ago (bound to 127.0.0.1:0 and released). Whoever binds it next
/// should still be ready to retry: another process may take it in between.
std::uint16_t free_tcp_port();

/// True when something accepts TCP connections on 127.0.0.1:port.
bool tcp_port_open(std::uint16_t port);

} // namespace enos::test
