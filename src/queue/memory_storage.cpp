// Memory mode: records packed back to back in 64 KiB heap blocks (a larger record gets a block of
// its own), so a queued message costs its record header and nothing per message on the heap.
#include "queue/record_storage.hpp"

#include <cstring>
#include <deque>

namespace enos::device::detail {
namespace {

class MemoryStorage final : public RecordStorage {
public:
    Result<RecordLocation> append(RecordHeader header, std::string_view topic, std::string_view id,
                                  std::string_view payload) override {
        header.body_size = static_cast<std::uint32_t>(topic.size() + id.size() + payload.size());
        const std::size_t size = header.record_size();
        if (!blocks_.empty() && blocks_.back().used == 0 && blocks_.back().capacity < size) {
            blocks_.back().bytes.reset(new char[size]);
            blocks_.back().capacity = static_cast<std::uint32_t>(size);
        }
        if (blocks_.empty() || blocks_.back().capacity - blocks_.back().used < size) {
            const std::size_t capacity = size > block_bytes ? size : block_bytes;
            blocks_.push_back(Block{next_id_++, 0, static_cast<std::uint32_t>(capacity),
                                    std::unique_ptr<char[]>(new char[capacity])});
        }
        Block& block = blocks_.back();
        auto* out = reinterpret_cast<unsigned char*>(block.bytes.get() + block.used);
        encode_record_header(header, out);
        header.crc = record_crc(out, topic, id, payload);
        encode_record_header(header, out);
        char* body = block.bytes.get() + block.used + record_header_size;
        for (std::string_view piece : {topic, id, payload}) {
            if (!piece.empty()) std::memcpy(body, piece.data(), piece.size());
            body += piece.size();
        }
        const RecordLocation at{block.id, block.used};
        block.used += static_cast<std::uint32_t>(size);
        total_used_ += size;
        return at;
    }

    Result<RecordView> read(RecordLocation at, std::string&) override {
        const Block* block = find(at.segment);
        if (!block || at.offset > block->used)
            return Error{errc::store_error, "no queued record at " + std::to_string(at.segment) + ":" +
                                                std::to_string(at.offset)};
        RecordView view;
        const auto damage =
            parse_record(std::string_view(block->bytes.get() + at.offset, block->used - at.offset), view);
        if (damage != RecordDamage::none)
            return Error{errc::store_error,
                         "queued record damaged in memory: " + std::string(to_string(damage))};
        return view;
    }

    void release_before(RecordLocation first_kept) override {
        while (!blocks_.empty() && blocks_.front().id < first_kept.segment) {
            total_used_ -= blocks_.front().used;
            blocks_.pop_front();
            ++reclaimed_;
        }
        // Nothing left to keep: the newest block is reused from its start.
        if (blocks_.size() == 1 && blocks_.front().id == first_kept.segment &&
            blocks_.front().used == first_kept.offset && first_kept.offset > 0) {
            total_used_ = 0;
            blocks_.front().used = 0;
            ++reclaimed_;
        }
    }

    void truncate(RecordLocation at) override {
        while (!blocks_.empty() && blocks_.back().id > at.segment) {
            total_used_ -= blocks_.back().used;
            blocks_.pop_back();
            next_id_ = at.segment + 1; // block ids stay contiguous: find() indexes by them
        }
        if (!blocks_.empty() && blocks_.back().id == at.segment && at.offset < blocks_.back().used) {
            total_used_ -= blocks_.back().used - at.offset;
            blocks_.back().used = at.offset;
        }
        ++reclaimed_;
    }

    void clear() override {
        if (blocks_.empty()) return;
        blocks_.clear();
        total_used_ = 0;
        ++reclaimed_;
    }

    std::uint64_t bytes_from(RecordLocation from) const override {
        std::uint64_t before = from.offset;
        for (const Block& block : blocks_) {
            if (block.id >= from.segment) break;
            before += block.used;
        }
        return total_used_ - before;
    }

    RecordLocation end() const override {
        if (blocks_.empty()) return {next_id_, 0};
        return {blocks_.back().id, blocks_.back().used};
    }

    void set_delivered_watermark(std::uint64_t) override {}
    Status flush() override { return {}; }

private:
    static constexpr std::size_t block_bytes = 64 * 1024;

    struct Block {
        std::uint32_t id;
        std::uint32_t used;
        std::uint32_t capacity;
        std::unique_ptr<char[]> bytes;
    };

    const Block* find(std::uint32_t id) const {
        if (blocks_.empty() || id < blocks_.front().id || id > blocks_.back().id) return nullptr;
        return &blocks_[id - blocks_.front().id];
    }

    std::deque<Block> blocks_;
    std::uint32_t next_id_ = 0;
    std::uint64_t total_used_ = 0;
};

} // namespace

std::unique_ptr<RecordStorage> make_memory_storage() {
    return std::make_unique<MemoryStorage>();
}

} // namespace enos::device::detail
