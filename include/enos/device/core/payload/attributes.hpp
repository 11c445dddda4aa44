// Attributes and tags (docs/protocol.md §3.5–3.6): at most 200 per request, names non-empty.
#pragma once

#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/payload/request.hpp>
#include <enos/device/core/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

/// Tag key -> value pairs, in the order given.
using Tags = std::vector<std::pair<std::string, std::string>>;

namespace detail {

/// {"params":{"<key>":[names...]}} for the query and delete methods.
inline bool write_name_list(PayloadWriter& w, std::string_view params_head, std::string_view field,
                            const std::vector<std::string>& names, std::size_t limit) {
    if (!w.at_most(names.size(), limit, field)) return false;
    w.raw(params_head);
    if (!w.names(names, field)) return false;
    w.raw('}');
    return true;
}

/// A request that names attributes or tags (query, delete).
template <UpMethod M> struct NameList {
    static constexpr UpMethod method = M;
    std::vector<std::string> names{};
    bool write_body(PayloadWriter& w, std::int64_t) const {
        if constexpr (M == UpMethod::attribute_query || M == UpMethod::attribute_delete)
            return write_name_list(w, ",\"params\":{\"attributes\":", "params.attributes", names,
                                   limits::max_attributes);
        else
            return write_name_list(w, ",\"params\":{\"tags\":", "params.tags", names, limits::max_tags);
    }
};

} // namespace detail

namespace up {

/// thing.attribute.query; no names: all attributes. The reply's data: name -> value
/// (decode_attribute_query_reply).
using AttributeQuery = detail::NameList<UpMethod::attribute_query>;

/// thing.attribute.delete; no names: nothing deleted.
using AttributeDelete = detail::NameList<UpMethod::attribute_delete>;

/// thing.tag.query; no names: all tags. The reply's data: key -> value (decode_tag_query_reply).
using TagQuery = detail::NameList<UpMethod::tag_query>;

/// thing.tag.delete
using TagDelete = detail::NameList<UpMethod::tag_delete>;

/// thing.attribute.update (at most 200): identifier -> value.
struct AttributeUpdate {
    static constexpr UpMethod method = UpMethod::attribute_update;
    Points attributes{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        if (!w.at_most(attributes.size(), limits::max_attributes, "params.attributes")) return false;
        w.raw(",\"params\":{\"attributes\":");
        if (!w.points(attributes, "params.attributes")) return false;
        w.raw('}');
        return true;
    }
};

/// thing.tag.update (at most 200): key -> value pairs, both non-empty; params is an array of
/// {tagKey, tagValue}.
struct TagUpdate {
    static constexpr UpMethod method = UpMethod::tag_update;
    Tags tags{};
    bool write_body(detail::PayloadWriter& w, std::int64_t) const {
        if (!w.at_most(tags.size(), limits::max_tags, "params")) return false;
        w.raw(",\"params\":[");
        for (std::size_t i = 0; i < tags.size(); ++i) {
            if (i != 0) w.raw(',');
            w.raw("{\"tagKey\":");
            if (!w.required_string(tags[i].first, {"params", i, ".tagKey"})) return false;
            w.raw(",\"tagValue\":");
            if (!w.required_string(tags[i].second, {"params", i, ".tagValue"})) return false;
            w.raw('}');
        }
        w.raw(']');
        return true;
    }
};

} // namespace up

/// "data" of a thing.attribute.query reply: attribute -> value.
inline Result<Points> decode_attribute_query_reply(std::string_view data_json) {
    return detail::decode_as<Points>(data_json, "data");
}

/// "data" of a thing.tag.query reply: tag key -> value (strings on the platform).
inline Result<Points> decode_tag_query_reply(std::string_view data_json) {
    return detail::decode_as<Points>(data_json, "data");
}

} // namespace enos::device
