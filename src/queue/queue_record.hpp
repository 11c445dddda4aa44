// The one record format of the offline queue, identical in memory and in segment files.
//
//   offset size  field
//        0    4  crc         CRC-32C of bytes 4 .. end of record (rest of the header and the body)
//        4    4  body_size   topic_size + id_size + payload bytes
//        8    8  sequence    assigned by the queue, strictly increasing over the whole log
//       16    2  topic_size
//       18    1  id_size     the caller's id of the message (its request id)
//       19    1  kind        2 = request body (1, a whole encoded payload, is no longer read)
//       20    1  flags       bit 0: QoS 1, bit 1: replay on the original topic
//       21    1  method      UpMethod of the message
//       22    2  reserved    zero
//       24       topic, id, payload
//
// The payload is the request's body (RequestBody::text: the envelope's members after "method", or
// a raw upload's bytes), so a replay seals it again with a fresh id, under the resume method where
// there is one.
//
// All integers little-endian. parse_record() checks every length against the bytes present before
// using it, so any input, however damaged, yields a record or a reason, never a crash.
#pragma once

#include "queue/crc32c.hpp"
#include <enos/device/core/limits.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace enos::device::detail {

inline constexpr std::size_t record_header_size = 24;
// Records of kind 1 held the whole encoded payload, id included; they fail the header check, so a
// store written that way is reported as damaged rather than replayed as malformed requests.
inline constexpr std::uint8_t record_kind_message = 2;
inline constexpr std::uint8_t record_flag_qos1 = 1;
inline constexpr std::uint8_t record_flag_keep_topic = 2;
inline constexpr std::size_t max_record_topic = 0xFFFF;
inline constexpr std::size_t max_record_id = 0xFF;
inline constexpr std::size_t max_record_body = max_record_topic + max_record_id + limits::max_payload_bytes;
// Sequence numbers (and the delivered watermark) stay below this: a queue numbering a billion
// messages a second would take 292 years to reach it. A higher one read from a store is damage
// (it would make the next number wrap to 0 and the records after it look out of order), and a
// queue that recovered one just below it refuses new messages rather than number past it.
inline constexpr std::uint64_t max_record_sequence = std::uint64_t{1} << 63;

struct RecordHeader {
    std::uint32_t crc = 0;
    std::uint32_t body_size = 0;
    std::uint64_t sequence = 0;
    std::uint16_t topic_size = 0;
    std::uint8_t id_size = 0;
    std::uint8_t kind = record_kind_message;
    std::uint8_t flags = 0;
    std::uint8_t method = 0;

    std::size_t record_size() const noexcept { return record_header_size + body_size; }
};

struct RecordView {
    RecordHeader header;
    std::string_view topic, id, payload;
};

/// Why a record is not accepted; out_of_sequence is found by the reader of a whole log, which knows
/// the previous record's sequence number.
enum class RecordDamage { none, truncated_header, truncated_body, bad_header, bad_checksum, out_of_sequence };

constexpr std::string_view to_string(RecordDamage damage) noexcept {
    switch (damage) {
    case RecordDamage::none: return "intact";
    case RecordDamage::truncated_header: return "truncated header";
    case RecordDamage::truncated_body: return "truncated record";
    case RecordDamage::bad_header: return "impossible header";
    case RecordDamage::bad_checksum: return "checksum mismatch";
    case RecordDamage::out_of_sequence: return "sequence number out of order";
    }
    return "unknown damage";
}

namespace record_bytes {
inline void put16(unsigned char* p, std::uint16_t v) noexcept {
    p[0] = static_cast<unsigned char>(v);
    p[1] = static_cast<unsigned char>(v >> 8);
}
inline void put32(unsigned char* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void put64(unsigned char* p, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline std::uint16_t get16(const unsigned char* p) noexcept {
    return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
inline std::uint32_t get32(const unsigned char* p) noexcept {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = v << 8 | p[i];
    return v;
}
inline std::uint64_t get64(const unsigned char* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = v << 8 | p[i];
    return v;
}
} // namespace record_bytes

/// Writes `header` (crc included as given) into out[0..24).
inline void encode_record_header(const RecordHeader& header, unsigned char* out) noexcept {
    using namespace record_bytes;
    put32(out, header.crc);
    put32(out + 4, header.body_size);
    put64(out + 8, header.sequence);
    put16(out + 16, header.topic_size);
    out[18] = header.id_size;
    out[19] = header.kind;
    out[20] = header.flags;
    out[21] = header.method;
    out[22] = out[23] = 0;
}

inline RecordHeader decode_record_header(const unsigned char* in) noexcept {
    using namespace record_bytes;
    RecordHeader h;
    h.crc = get32(in);
    h.body_size = get32(in + 4);
    h.sequence = get64(in + 8);
    h.topic_size = get16(in + 16);
    h.id_size = in[18];
    h.kind = in[19];
    h.flags = in[20];
    h.method = in[21];
    return h;
}

/// Sizes that no writer produces: checked before the body length is trusted.
inline bool plausible(const RecordHeader& h) noexcept {
    return h.kind == record_kind_message && h.body_size <= max_record_body &&
           std::size_t{h.topic_size} + h.id_size <= h.body_size && h.sequence < max_record_sequence;
}

/// CRC of a record: the encoded header after its crc field, then the body pieces.
inline std::uint32_t record_crc(const unsigned char* encoded_header, std::string_view topic,
                                std::string_view id, std::string_view payload) noexcept {
    return Crc32c{}
        .update(encoded_header + 4, record_header_size - 4)
        .update(topic)
        .update(id)
        .update(payload)
        .value();
}

/// Checks the record at the start of `bytes` and, when intact, points `out` into it.
inline RecordDamage parse_record(std::string_view bytes, RecordView& out) noexcept {
    if (bytes.size() < record_header_size) return RecordDamage::truncated_header;
    const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
    out.header = decode_record_header(raw);
    if (!plausible(out.header)) return RecordDamage::bad_header;
    if (bytes.size() - record_header_size < out.header.body_size) return RecordDamage::truncated_body;
    const std::string_view body = bytes.substr(record_header_size, out.header.body_size);
    out.topic = body.substr(0, out.header.topic_size);
    out.id = body.substr(out.header.topic_size, out.header.id_size);
    out.payload = body.substr(std::size_t{out.header.topic_size} + out.header.id_size);
    if (record_crc(raw, out.topic, out.id, out.payload) != out.header.crc) return RecordDamage::bad_checksum;
    return RecordDamage::none;
}

} // namespace enos::device::detail
