// Uses only the header-only core: links no compiled part of the SDK.
#include <enos/device/core/topics.hpp>

int main() {
    auto topic = enos::device::request_topic(enos::device::UpMethod::measurepoint_post, "pk", "dk");
    return topic == "/sys/pk/dk/thing/measurepoint/post" ? 0 : 1;
}
