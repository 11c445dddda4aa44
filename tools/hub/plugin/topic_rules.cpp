#include "topic_rules.hpp"

#include <enos/device/core/topics.hpp>

#include <initializer_list>
#include <vector>

namespace enos::hub::plugin {

namespace {

std::vector<std::string_view> split_levels(std::string_view topic) {
    std::vector<std::string_view> levels;
    while (true) {
        const std::size_t slash = topic.find('/');
        levels.push_back(topic.substr(0, slash));
        if (slash == std::string_view::npos) break;
        topic.remove_prefix(slash + 1);
    }
    return levels;
}

// True when the topic (or every topic a filter can match) lies strictly below `prefix`. Wildcards
// inside the prefix levels never compare equal to a key, so "/sys/+/dk/#" is not below "/sys/pk/dk".
bool below(const std::vector<std::string_view>& levels, std::initializer_list<std::string_view> prefix) {
    if (levels.size() <= prefix.size()) return false;
    std::size_t i = 0;
    for (std::string_view p : prefix)
        if (levels[i++] != p) return false;
    return true;
}

std::string check_device(const Identity& who, const std::vector<std::string_view>& levels,
                         const SubDeviceSet* logged_in) {
    const std::string_view pk = who.product_key, dk = who.device_key;
    if (below(levels, {"", "sys", pk, dk}) || below(levels, {"", "ext", "session", pk, dk})) return {};
    if (who.gateway && levels.size() > 4 && levels[0].empty() && levels[1] == "sys") {
        std::string sub(levels[2]);
        sub += '/';
        sub.append(levels[3]);
        if (logged_in && logged_in->count(sub)) return {};
        return "sub-device topic of '" + sub + "', which is not logged in through this gateway";
    }
    return "topic outside /sys/" + who.product_key + "/" + who.device_key + "/ and /ext/session/" +
           who.product_key + "/" + who.device_key + "/";
}

std::string check_activation(const Identity& who, Access access, std::string_view topic) {
    const std::string info =
        "/ext/session/" + who.product_key + "/" + who.device_key + "/thing/activate/info";
    const std::string& allowed = access == Access::publish ? info + "_reply" : info;
    if (topic == allowed) return {};
    return "a securemode-3 (activation) connection may only " +
           std::string(access == Access::publish ? "publish on " : "subscribe to ") + allowed;
}

// Commands and the replies to requests come from the cloud alone. Whoever follows those topics (the
// simulator acts on combine.disable/delete it overhears, a device trusts its replies) would take a
// device's publish there for the cloud's word, so a device may publish a command reply but never
// the command itself nor the answer to a request.
std::string check_cloud_only(std::string_view topic) {
    namespace dev = enos::device;
    if (dev::parse_command_reply_topic(topic)) return {};
    auto arrived = dev::parse_arrived_topic(topic);
    if (!arrived) return {};
    return arrived->kind == dev::DownKind::reply ? "only the cloud answers requests on their _reply topics"
                                                 : "only the cloud publishes commands";
}

} // namespace

const char* to_string(Access access) {
    switch (access) {
    case Access::subscribe: return "subscribe";
    case Access::publish: return "publish";
    case Access::deliver: return "delivery";
    }
    return "access";
}

std::string check_topic(const Identity& who, Access access, std::string_view topic,
                        const SubDeviceSet* logged_in) {
    if (who.role != Role::admin && access == Access::publish)
        if (std::string reason = check_cloud_only(topic); !reason.empty()) return reason;
    switch (who.role) {
    case Role::admin: return {};
    case Role::activation: return check_activation(who, access, topic);
    case Role::integration:
        if (below(split_levels(topic), {"", "sys", who.product_key, "integration"})) return {};
        return "an integration (securemode 4) connection may only use /sys/" + who.product_key +
               "/integration/";
    case Role::device: return check_device(who, split_levels(topic), logged_in);
    }
    return "unknown role";
}

std::string check_retain(const Identity& who, bool retain) {
    if (!retain || who.role == Role::admin) return {};
    return "retained publishes are refused (devices never set retain)";
}

} // namespace enos::hub::plugin
