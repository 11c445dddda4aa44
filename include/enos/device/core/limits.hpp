// Limits of the EnOS platform that the SDK checks locally before anything is sent (docs/protocol.md §5.3).
#pragma once

#include <cstddef>

namespace enos::device::limits {

inline constexpr std::size_t max_payload_bytes = 512 * 1024; ///< a payload must be smaller than this
inline constexpr std::size_t max_attributes = 200;           ///< per attribute update, delete or query
inline constexpr std::size_t max_tags = 200;                 ///< per tag update
inline constexpr std::size_t max_registrations = 1000;       ///< per thing.device.register
/// Sub-devices per combine.login.batch. The platform documents no limit; 100 keeps a request
/// (about 200 bytes per entry) and its reply far below the 512 KB payload cap, keeps one failed or
/// timed-out batch from touching more than 100 sessions, and makes 10,000 sub-devices 100 requests.
inline constexpr std::size_t max_batch_login = 100;
inline constexpr std::size_t max_client_id_chars = 64; ///< raw client id (before the first '|')
inline constexpr int max_qos = 1;                      ///< EnOS accepts QoS 0 and 1 only

} // namespace enos::device::limits
