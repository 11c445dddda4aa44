// How the client adapts to the number of replies on their way: every threshold in one place.
//
// Two switches follow that number (docs/client.md, "Throughput tuning"):
// * the dispatcher thread naps instead of sleeping while more than `nap_above` replies are
//   awaited, so the replies of a busy window run in batches, one wake-up each (a cross-CPU wake-up
//   costs more than handling a reply); a reply's callback then starts at most `nap` late;
// * TCP coalescing (Nagle's algorithm) starts at `coalesce_from` awaited replies and stops when none
//   is awaited: a busy pipeline of small requests goes out in fewer segments, while the broker's
//   PUBACKs and replies keep acknowledging them, so a held packet waits about one round trip. With
//   few replies awaited, everything is sent at once.
#pragma once

#include <chrono>
#include <cstddef>

namespace enos::device::detail {

struct PipelineTuning {
    static constexpr std::size_t nap_above = 1;
    static constexpr std::chrono::microseconds nap{1000};
    /// Naps in a row that found nothing to do before the thread sleeps until woken.
    static constexpr int max_empty_naps = 4;
    static constexpr std::size_t coalesce_from = 8;

    static constexpr bool naps(std::size_t awaited) noexcept { return awaited > nap_above; }
    /// Whether TCP should coalesce, given whether it does now (on until nothing is awaited).
    static constexpr bool coalesces(std::size_t awaited, bool now) noexcept {
        return now ? awaited > 0 : awaited >= coalesce_from;
    }
};

} // namespace enos::device::detail
