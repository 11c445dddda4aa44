// The persistent store across restarts: records come back intact, delivered ones do not, fully
// delivered segments are deleted, and damaged files (cut short, bytes flipped, garbage) are
// recovered without a crash, keeping every intact record before the damage.
#include "test_queue_support.hpp"

#include "support/fault_fs.hpp"
#include "support/temp_dir.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

using namespace queue_test;
using enos::test::TempDir;

namespace {

OfflineQueueOptions store_options(const std::string& directory) {
    OfflineQueueOptions options;
    options.store_directory = directory;
    options.segment_bytes = 4096;
    options.fsync = FsyncPolicy::never;
    return options;
}

std::vector<std::string> segment_files(const std::string& directory) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 4 && name.substr(name.size() - 4) == ".seg") names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

/// Where each message's record lies, worked out from the record sizes and the segment file sizes
/// alone (records are appended in sequence order, a segment holds whole records).
struct Placement {
    std::string file;
    std::size_t offset, size;
};

std::map<std::uint64_t, Placement> place(const std::map<std::string, std::string>& files, std::uint64_t count,
                                         Message (*make)(std::uint64_t)) {
    std::map<std::uint64_t, Placement> placed;
    std::uint64_t n = 1;
    for (const auto& [name, bytes] : files) {
        if (name.size() < 4 || name.substr(name.size() - 4) != ".seg") continue;
        std::size_t offset = 0;
        while (offset < bytes.size()) {
            REQUIRE(n <= count);
            const std::size_t size = make(n).record_size();
            placed[n++] = Placement{name, offset, size};
            offset += size;
        }
        REQUIRE(offset == bytes.size());
    }
    REQUIRE(placed.size() == count);
    return placed;
}

Message varied(std::uint64_t n) {
    return varied_message(n);
}

} // namespace

TEST_CASE("CRC-32C matches the standard check values", "[unit][store]") {
    CHECK(crc32c("123456789") == 0xE3069283u);
    CHECK(crc32c("") == 0u);
    CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);
    CHECK(crc32c(std::string(32, '\xFF')) == 0x62A8AB43u);
    std::string ascending(32, '\0');
    for (int i = 0; i < 32; ++i)
        ascending[i] = static_cast<char>(i);
    CHECK(crc32c(ascending) == 0x46DD794Eu);
    // Any split of the input gives the same value.
    for (std::size_t cut = 0; cut <= ascending.size(); ++cut)
        CHECK(Crc32c{}.update(ascending.substr(0, cut)).update(ascending.substr(cut)).value() == 0x46DD794Eu);
}

TEST_CASE("a record is read back intact, and any cut or flipped byte is detected", "[unit][store]") {
    const Message m = varied_message(7);
    RecordHeader header;
    header.sequence = 7;
    header.topic_size = static_cast<std::uint16_t>(m.topic.size());
    header.id_size = static_cast<std::uint8_t>(m.id.size());
    header.body_size = static_cast<std::uint32_t>(m.topic.size() + m.id.size() + m.payload.size());
    header.method = 7;
    std::string bytes(record_header_size, '\0');
    auto* raw = reinterpret_cast<unsigned char*>(bytes.data());
    encode_record_header(header, raw);
    header.crc = record_crc(raw, m.topic, m.id, m.payload);
    encode_record_header(header, raw);
    bytes += m.topic + m.id + m.payload;

    RecordView view;
    REQUIRE(parse_record(bytes, view) == RecordDamage::none);
    CHECK(view.header.sequence == 7);
    CHECK(view.topic == m.topic);
    CHECK(view.id == m.id);
    CHECK(view.payload == m.payload);

    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        const auto damage = parse_record(std::string_view(bytes).substr(0, cut), view);
        CHECK(damage ==
              (cut < record_header_size ? RecordDamage::truncated_header : RecordDamage::truncated_body));
    }
    for (std::size_t at = 0; at < bytes.size(); ++at) {
        std::string flipped = bytes;
        flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
        CHECK(parse_record(flipped, view) != RecordDamage::none);
    }
}

TEST_CASE("the store gives back every message after a restart, exactly as queued", "[unit][store]") {
    TempDir dir("enos-store");
    const auto options = store_options(dir.file("store"));
    {
        auto queue = open_queue(options);
        for (std::uint64_t n = 1; n <= 200; ++n)
            REQUIRE(queue.push(varied_message(n).view()).ok());
    }
    CHECK(segment_files(options.store_directory).size() > 10);

    auto queue = open_queue(options);
    CHECK(queue.recovery().messages == 200);
    CHECK(queue.recovery().damaged_segments == 0);
    CHECK(queue.stats().recovered == 200);
    CHECK(queue.stats().depth == 200);
    const auto back = take_all(queue);
    REQUIRE(sequences_of(back) == range(1, 200));
    for (const auto& m : back) {
        check_same(m, varied_message(m.sequence));
        CHECK(m.replay);
    }
    // Numbering goes on above everything the store has seen.
    auto next = queue.push(message(1).view());
    REQUIRE(next.ok());
    CHECK(*next == 201);
    check_balance(queue.stats());
}

TEST_CASE("delivered messages stay gone after a restart, and their segments are deleted", "[unit][store]") {
    TempDir dir("enos-store");
    const auto options = store_options(dir.file("store"));
    {
        auto queue = open_queue(options);
        for (std::uint64_t n = 1; n <= 100; ++n)
            REQUIRE(queue.push(message(n).view()).ok());
        const std::size_t segments = segment_files(options.store_directory).size();
        REQUIRE(segments > 3);
        queue.link_up();
        take_all(queue);
        for (std::uint64_t n = 1; n <= 60; ++n)
            REQUIRE(queue.mark_delivered(n));
        CHECK(segment_files(options.store_directory).size() < segments);
    }
    {
        auto queue = open_queue(options);
        CHECK(queue.recovery().messages == 40);
        const auto back = take_all(queue);
        REQUIRE(sequences_of(back) == range(61, 100));
        for (const auto& m : back) {
            check_same(m, message(m.sequence));
            CHECK(queue.mark_delivered(m.sequence));
        }
        CHECK(segment_files(options.store_directory).size() <= 1);
        CHECK(queue.stats().bytes == 0);
    }
    auto queue = open_queue(options);
    CHECK(queue.recovery().messages == 0);
    CHECK(queue.stats().depth == 0);
    auto next = queue.push(message(1).view());
    REQUIRE(next.ok());
    CHECK(*next == 101);
}

TEST_CASE("recovery keeps every intact record before the damage, whatever the damage", "[unit][store]") {
    TempDir dir("enos-store");
    const auto options = store_options(dir.file("store"));
    constexpr std::uint64_t count = 120;
    {
        auto queue = open_queue(options);
        for (std::uint64_t n = 1; n <= count; ++n)
            REQUIRE(queue.push(varied_message(n).view()).ok());
    }
    const auto pristine = enos::test::read_directory(options.store_directory);
    const auto placed = place(pristine, count, varied);
    std::vector<std::string> segments;
    for (const auto& [name, bytes] : pristine)
        if (name.size() > 4 && name.substr(name.size() - 4) == ".seg") segments.push_back(name);
    REQUIRE(segments.size() >= 5);

    // Opens the damaged store and checks that exactly the expected records come back, intact.
    auto recover_and_check = [&](const std::string& file, std::size_t damage_at, bool record_damaged) {
        auto queue = open_queue(options);
        std::vector<std::uint64_t> expected;
        for (const auto& [n, p] : placed) {
            const bool lost =
                p.file == file && (record_damaged ? p.offset + p.size > damage_at : p.offset >= damage_at);
            if (!lost) expected.push_back(n);
        }
        const auto back = take_all(queue);
        REQUIRE(sequences_of(back) == expected);
        for (const auto& m : back)
            check_same(m, varied_message(m.sequence));
        CHECK(queue.recovery().messages == expected.size());
    };

    std::mt19937_64 random(20240611);
    SECTION("cut short at many offsets, including every record boundary of one segment") {
        std::vector<std::pair<std::string, std::size_t>> cuts;
        for (const auto& [n, p] : placed)
            if (p.file == segments[1])
                for (std::size_t delta : {0, 1, 23, 24, 25})
                    if (p.offset + delta < pristine.at(p.file).size())
                        cuts.emplace_back(p.file, p.offset + delta);
        for (int i = 0; i < 150; ++i) {
            const std::string& file = segments[random() % segments.size()];
            cuts.emplace_back(file, random() % pristine.at(file).size());
        }
        for (const auto& [file, cut] : cuts) {
            INFO("segment " << file << " cut at " << cut);
            auto damaged = pristine;
            damaged[file].resize(cut);
            enos::test::restore_directory(options.store_directory, damaged);
            // A record is lost if it does not end before the cut (a cut at a boundary loses nothing
            // before it).
            recover_and_check(file, cut, true);
        }
    }
    SECTION("a byte flipped at many positions") {
        for (int i = 0; i < 200; ++i) {
            const std::string& file = segments[random() % segments.size()];
            const std::size_t at = random() % pristine.at(file).size();
            const auto mask = static_cast<char>(1 + random() % 255);
            INFO("segment " << file << " byte " << at << " xor " << int(static_cast<unsigned char>(mask)));
            auto damaged = pristine;
            damaged[file][at] = static_cast<char>(damaged[file][at] ^ mask);
            enos::test::restore_directory(options.store_directory, damaged);
            // Every record from the one holding the flipped byte to the end of its segment is lost.
            std::size_t record_start = 0;
            for (const auto& [n, p] : placed)
                if (p.file == file && p.offset <= at) record_start = p.offset;
            recover_and_check(file, record_start, false);
        }
    }
    SECTION("recovery cuts the damage off, so a second restart finds the same records") {
        auto damaged = pristine;
        damaged[segments[2]].resize(pristine.at(segments[2]).size() / 2);
        enos::test::restore_directory(options.store_directory, damaged);
        std::vector<std::uint64_t> first;
        {
            auto queue = open_queue(options);
            CHECK(queue.recovery().damaged_segments == 1);
            CHECK(queue.recovery().truncated_bytes > 0);
            first = sequences_of(take_all(queue));
        }
        auto queue = open_queue(options);
        CHECK(queue.recovery().damaged_segments == 0);
        CHECK(sequences_of(take_all(queue)) == first);
    }
}

TEST_CASE("a segment whose start was given back is read from the head its name records", "[unit][store]") {
    TempDir dir("enos-store");
    const auto options = store_options(dir.file("store"));
    constexpr std::uint64_t count = 60;
    {
        auto queue = open_queue(options);
        for (std::uint64_t n = 1; n <= count; ++n)
            REQUIRE(queue.push(varied_message(n).view()).ok());
    }
    const auto pristine = enos::test::read_directory(options.store_directory);
    const auto placed = place(pristine, count, varied);
    const std::string file = placed.at(1).file; // the oldest segment, as a full disk would cut it
    std::vector<std::uint64_t> in_file;
    for (const auto& [n, p] : placed)
        if (p.file == file) in_file.push_back(n);
    REQUIRE(in_file.size() >= 3);
    const std::uint64_t first_kept = in_file[in_file.size() / 2];
    const std::size_t head = placed.at(first_kept).offset;

    // The name that records head `at`; the bytes before it zeroed, as the punched hole reads.
    auto with_head = [&](std::size_t at) {
        auto files = pristine;
        std::string bytes = files.at(file);
        files.erase(file);
        std::fill(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(std::min(at, bytes.size())),
                  '\0');
        char name[32];
        std::snprintf(name, sizeof name, "%s-%08zu.seg", file.substr(0, 12).c_str(), at);
        files[name] = bytes;
        enos::test::restore_directory(options.store_directory, files);
        return std::string(name);
    };

    SECTION("the records from the head on come back, those before it do not") {
        const std::string name = with_head(head);
        {
            auto queue = open_queue(options);
            CHECK(queue.recovery().damaged_segments == 0);
            const auto back = take_all(queue);
            CHECK(sequences_of(back) == range(first_kept, count));
            for (const auto& m : back)
                check_same(m, varied_message(m.sequence));
            CHECK(std::filesystem::exists(options.store_directory + "/" + name));
            // Once its records are delivered, the renamed segment goes like any other.
            for (const auto& m : back)
                REQUIRE(queue.mark_delivered(m.sequence));
        }
        CHECK(segment_files(options.store_directory).size() <= 1);
        CHECK_FALSE(std::filesystem::exists(options.store_directory + "/" + name));
    }
    SECTION("a head inside a record is damage: that segment is cut there, the others are kept") {
        with_head(head + 1);
        auto queue = open_queue(options);
        CHECK(queue.recovery().damaged_segments == 1);
        CHECK(sequences_of(take_all(queue)) == range(in_file.back() + 1, count));
    }
    SECTION("a head at or past the end of its file is damage: the file goes") {
        const std::string name = with_head(pristine.at(file).size());
        auto queue = open_queue(options);
        CHECK(queue.recovery().damaged_segments == 1);
        CHECK(sequences_of(take_all(queue)) == range(in_file.back() + 1, count));
        CHECK_FALSE(std::filesystem::exists(options.store_directory + "/" + name));
    }
    SECTION("names no writer uses are left alone") {
        auto files = pristine;
        for (const char* odd : {"000000000001-00000000.seg", "000000000001-0000012x.seg",
                                "000000000001_00000100.seg", "000000000001-99999999.seg"})
            files[odd] = files.at(file);
        enos::test::restore_directory(options.store_directory, files);
        auto queue = open_queue(options);
        CHECK(sequences_of(take_all(queue)) == range(1, count));
        CHECK(std::filesystem::exists(options.store_directory + "/000000000001-0000012x.seg"));
    }
}

TEST_CASE("garbage in the store directory never crashes recovery", "[unit][store]") {
    TempDir dir("enos-store");
    const auto options = store_options(dir.file("store"));
    {
        auto queue = open_queue(options);
        for (std::uint64_t n = 1; n <= 10; ++n)
            REQUIRE(queue.push(message(n).view()).ok());
    }
    const auto pristine = enos::test::read_directory(options.store_directory);
    std::mt19937_64 random(77);
    auto noise = [&](std::size_t size) {
        std::string bytes(size, '\0');
        for (char& c : bytes)
            c = static_cast<char>(random());
        return bytes;
    };
    // A header that claims a 4 GB body, and one that claims a body just past the end of the file.
    std::string huge(record_header_size, '\0');
    RecordHeader claim;
    claim.body_size = 0xFFFFFFF0u;
    claim.sequence = 99;
    encode_record_header(claim, reinterpret_cast<unsigned char*>(huge.data()));
    std::string short_body(record_header_size + 10, '\0');
    claim.body_size = 11;
    encode_record_header(claim, reinterpret_cast<unsigned char*>(short_body.data()));

    const std::vector<std::string> bad = {noise(1),    noise(23),     noise(24),
                                          noise(4096), noise(100000), std::string(5000, '\0'),
                                          huge,        short_body,    std::string()};
    for (std::size_t i = 0; i < bad.size(); ++i) {
        INFO("garbage #" << i);
        auto files = pristine;
        files["000000000900.seg"] = bad[i]; // after the good segments
        files["000000000000.seg"] = bad[i]; // names no writer uses: left alone
        files["999999999999.seg"] = bad[i];
        files["delivered"] = noise(i * 7); // a damaged watermark
        files["notes.txt"] = "not ours";
        enos::test::restore_directory(options.store_directory, files);
        std::filesystem::create_directory(options.store_directory + "/000000000901.seg");
        Recorder recorder;
        auto queue = open_queue(options, recorder.events());
        // The good records all come back; the garbage yields nothing.
        CHECK(sequences_of(take_all(queue)) == range(1, 10));
        CHECK(std::filesystem::exists(options.store_directory + "/notes.txt"));
        CHECK(std::filesystem::exists(options.store_directory + "/999999999999.seg"));
        CHECK(recorder.count_logs("000000000901.seg") == 1);
        auto next = queue.push(message(11).view());
        REQUIRE(next.ok());
        CHECK(*next >= 11);
    }
}
