// Recovery of the offline queue's store directory (src/queue): arbitrary bytes as segment files, and
// optionally a delivered watermark, opened by OfflineQueue::open() in a private temporary directory.
//
// Input: byte 0 holds flags: bit 0 repairs the CRC of every record whose header is plausible (so the
// fuzzer can build logs of valid records without computing CRC-32C), bit 1 adds a delivered
// watermark (the next 8 bytes, little-endian), bits 2-3 give the number of segment files minus one.
// Bytes 1-4 are the number of the first segment file (little-endian; numbers that are not valid
// segment names are written too). The rest is split evenly between the segment files.
//
// Invariants: opening never fails and never crashes or hangs whatever the files hold; every segment
// file is counted, damage is reported within the bytes present; every recovered message can be read
// back, in increasing sequence order; the first open leaves the store clean, so that after one
// more message is queued and the queue closed, a second open finds no damage and every message of
// the first open plus the new one.
#include "fuzz_support.hpp"

#include "queue/offline_queue.hpp"
#include "queue/queue_record.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace enos::device;
using namespace enos::device::detail;
using enos::fuzz::require;

/// A directory of our own under $TMPDIR, removed when the process exits.
class WorkDirectory {
public:
    WorkDirectory() {
        path_ = (std::filesystem::temp_directory_path() / "enos-fuzz-store-XXXXXX").string();
        require(::mkdtemp(path_.data()) != nullptr, "a temporary directory can be created");
    }
    ~WorkDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    WorkDirectory(const WorkDirectory&) = delete;
    WorkDirectory& operator=(const WorkDirectory&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

const std::string& work_directory() {
    static const WorkDirectory directory;
    return directory.path();
}

struct StoreInput {
    bool repair_crcs = false;
    std::optional<std::uint64_t> watermark;
    std::uint32_t first_segment = 1;
    std::vector<std::string> segments;
};

/// Gives every record with a plausible header, walking from the start, its correct CRC.
void repair_crcs(std::string& segment) {
    std::size_t at = 0;
    while (segment.size() - at >= record_header_size) {
        auto* raw = reinterpret_cast<unsigned char*>(segment.data() + at);
        RecordHeader header = decode_record_header(raw);
        if (!plausible(header) || segment.size() - at - record_header_size < header.body_size) return;
        const std::string_view body(segment.data() + at + record_header_size, header.body_size);
        header.crc =
            record_crc(raw, body.substr(0, header.topic_size), body.substr(header.topic_size, header.id_size),
                       body.substr(std::size_t{header.topic_size} + header.id_size));
        encode_record_header(header, raw);
        at += header.record_size();
    }
}

std::optional<StoreInput> read_input(const std::uint8_t* data, std::size_t size) {
    if (size < 5) return std::nullopt;
    StoreInput in;
    const std::uint8_t flags = data[0];
    in.repair_crcs = (flags & 1) != 0;
    in.first_segment = record_bytes::get32(data + 1);
    std::size_t at = 5;
    if (flags & 2) {
        if (size < at + 8) return std::nullopt;
        in.watermark = record_bytes::get64(data + at);
        at += 8;
    }
    const std::size_t count = ((flags >> 2) & 3) + 1;
    const std::size_t share = (size - at) / count;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t length = i + 1 == count ? size - at : share;
        in.segments.emplace_back(reinterpret_cast<const char*>(data + at), length);
        if (in.repair_crcs) repair_crcs(in.segments.back());
        at += length;
    }
    return in;
}

void write_file(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    require(out.good(), "a segment file can be written");
}

/// Writes the input's files into an empty directory; the number of valid segment names written.
std::size_t lay_out(const StoreInput& in, const std::string& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        std::filesystem::remove_all(entry.path());
    std::size_t valid = 0;
    for (std::size_t i = 0; i < in.segments.size(); ++i) {
        const std::uint64_t id = std::uint64_t{in.first_segment} + i;
        char name[32];
        std::snprintf(name, sizeof name, "%012llu.seg", static_cast<unsigned long long>(id));
        write_file(dir + "/" + name, in.segments[i]);
        valid += id >= 1 && id < 0xFFFFFFFFu;
    }
    if (in.watermark) {
        unsigned char raw[20] = {'E', 'N', 'O', 'S', 'D', 'L', 'V', '1'};
        record_bytes::put64(raw + 8, *in.watermark);
        record_bytes::put32(raw + 16, Crc32c{}.update(raw, 16).value());
        write_file(dir + "/delivered", {reinterpret_cast<const char*>(raw), sizeof raw});
    }
    return valid;
}

/// Whether the input names a segment with the highest number a segment file may have.
bool uses_last_segment_number(const StoreInput& in) {
    constexpr std::uint64_t last = 0xFFFFFFFE;
    return in.first_segment <= last && last < std::uint64_t{in.first_segment} + in.segments.size();
}

/// The highest sequence number a recovered queue has seen: its newest message or the watermark.
std::uint64_t last_sequence(const StoreInput& in, const std::vector<std::uint64_t>& recovered) {
    const std::uint64_t watermark = in.watermark && *in.watermark < max_record_sequence ? *in.watermark : 0;
    return std::max(watermark, recovered.empty() ? 0 : recovered.back());
}

OfflineQueueOptions store_options(const std::string& dir) {
    OfflineQueueOptions options;
    options.store_directory = dir;
    options.fsync = FsyncPolicy::never;
    options.segment_bytes = 4096;
    return options;
}

/// Every queued message, oldest first; none may be lost to a read error.
std::vector<std::uint64_t> drain(OfflineQueue& queue, const std::size_t& unreadable) {
    std::vector<std::uint64_t> sequences;
    QueuedMessage message;
    while (queue.next(message)) {
        require(sequences.empty() || message.sequence > sequences.back(), "messages come in sequence order");
        require(message.replay, "a recovered message is a replay");
        sequences.push_back(message.sequence);
    }
    require(unreadable == 0, "every recovered message can be read back");
    return sequences;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::optional<StoreInput> in = read_input(data, size);
    if (!in) return 0;
    const std::string& dir = work_directory();
    const std::size_t valid_segments = lay_out(*in, dir);
    std::size_t total_bytes = 0;
    for (const std::string& segment : in->segments)
        total_bytes += segment.size();

    std::size_t unreadable = 0;
    QueueEvents events;
    events.on_drop = [&unreadable](const DroppedMessage& dropped) {
        unreadable += dropped.error.code == errc::store_error;
    };

    std::vector<std::uint64_t> recovered;
    std::uint64_t added = 0;
    {
        Result<OfflineQueue> queue = OfflineQueue::open(store_options(dir), events);
        require(queue.ok(), "a store directory opens whatever its segment files hold");
        const StoreRecovery report = queue->recovery();
        require(report.segments == valid_segments, "every segment file is read");
        require(report.damaged_segments <= report.segments, "damage is counted per segment");
        require(report.truncated_bytes <= total_bytes, "no more bytes cut than there were");
        require((report.damaged_segments == 0) == (report.truncated_bytes == 0), "damage cuts bytes off");
        recovered = drain(*queue, unreadable);
        require(recovered.size() == report.messages, "every recovered message is handed out");

        const std::string topic = "/sys/pk/dk/thing/measurepoint/post";
        Result<std::uint64_t> pushed =
            queue->push(OutboundMessage{UpMethod::measurepoint_post, topic, "1", "{}"});
        const bool used_up =
            uses_last_segment_number(*in) || last_sequence(*in, recovered) + 1 >= max_record_sequence;
        require(pushed.ok() || (pushed.code() == errc::store_error && used_up),
                "a recovered store takes a new message, unless its segment or sequence numbers are used up");
        if (pushed) {
            require(recovered.empty() || *pushed > recovered.back(),
                    "a new message follows the recovered ones");
            added = *pushed;
        }
    }

    Result<OfflineQueue> reopened = OfflineQueue::open(store_options(dir), events);
    require(reopened.ok(), "a recovered store opens again");
    require(reopened->recovery().damaged_segments == 0, "recovery leaves no damage behind");
    std::vector<std::uint64_t> expected = recovered;
    if (added != 0) expected.push_back(added);
    require(drain(*reopened, unreadable) == expected,
            "a second open finds every message of the first and the new one");
    return 0;
}
