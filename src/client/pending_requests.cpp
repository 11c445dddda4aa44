#include "client/pending_requests.hpp"

namespace enos::device::detail {

namespace {
constexpr std::size_t remembered_ended_keys = 4096;
}

std::string PendingRequests::key(const std::string& reply_topic, std::string_view id) {
    std::string key;
    key.reserve(reply_topic.size() + 1 + id.size());
    key.append(reply_topic).append(1, '#').append(id);
    return key;
}

bool PendingRequests::waits(const std::string& key, std::uint64_t seq) const {
    auto it = pending_.find(key);
    return it != pending_.end() && it->second.seq == seq;
}

std::optional<Clock::time_point> PendingRequests::next_deadline() const {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.begin()->first.first;
}

void PendingRequests::add(const std::string& key, std::uint64_t seq, Clock::time_point deadline,
                          Completion done) {
    auto inserted = pending_.emplace(key, Pending{seq, deadline, std::move(done)}).first;
    deadlines_.emplace(Deadline{deadline, seq}, &inserted->first);
}

Completion PendingRequests::take(const std::string& key, std::uint64_t seq) {
    auto it = pending_.find(key);
    if (it == pending_.end() || it->second.seq != seq) return {};
    Completion done = std::move(it->second.done);
    deadlines_.erase(Deadline{it->second.deadline, seq});
    pending_.erase(it);
    remember_ended(key);
    return done;
}

PendingRequests::Match PendingRequests::take_reply(const std::string& key, Completion& done) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return ended_.count(key) ? Match::late : Match::unmatched;
    done = std::move(it->second.done);
    deadlines_.erase(Deadline{it->second.deadline, it->second.seq});
    pending_.erase(it);
    return Match::matched;
}

std::vector<std::pair<Completion, std::string>> PendingRequests::take_expired(Clock::time_point now) {
    std::vector<std::pair<Completion, std::string>> expired;
    while (!deadlines_.empty() && deadlines_.begin()->first.first <= now) {
        const std::uint64_t seq = deadlines_.begin()->first.second;
        std::string key = *deadlines_.begin()->second;
        Completion done = take(key, seq); // also drops the deadline
        if (!done) {                      // cannot happen while both maps agree; never loop on it
            deadlines_.erase(deadlines_.begin());
            continue;
        }
        expired.emplace_back(std::move(done), std::move(key));
    }
    return expired;
}

std::vector<Completion> PendingRequests::take_all() {
    std::vector<Completion> all;
    all.reserve(pending_.size());
    for (auto& [key, pending] : pending_) {
        all.push_back(std::move(pending.done));
        remember_ended(key);
    }
    pending_.clear();
    deadlines_.clear();
    return all;
}

void PendingRequests::forget_ended() {
    ended_.clear();
    ended_order_.clear();
}

void PendingRequests::remember_ended(const std::string& key) {
    if (ended_.insert(key).second) ended_order_.push_back(key);
    if (ended_order_.size() > remembered_ended_keys) {
        ended_.erase(ended_order_.front());
        ended_order_.pop_front();
    }
}

} // namespace enos::device::detail
