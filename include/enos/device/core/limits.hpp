// Limits of the EnOS platform that the SDK checks locally before anything is sent (docs/protocol.md §5.3).
#pragma once

#include <cstddef>

namespace enos::device::limits {

inline constexpr std::size_t max_payload_bytes = 512 * 1024; ///< a payload must be smaller than this
inline constexpr std::size_t max_attributes = 200;           ///< per attribute update, delete or query
inline constexpr std::size_t max_tags = 200;                 ///< per tag update
inline constexpr std::size_t max_registrations = 1000;       ///< per thing.device.register
inline constexpr std::size_t max_login_batch = 1000;         ///< sub-devices per combine.login.batch
inline constexpr std::size_t max_client_id_chars = 64;       ///< raw client id (before the first '|')
inline constexpr int max_qos = 1;                            ///< EnOS accepts QoS 0 and 1 only

} // namespace enos::device::limits
