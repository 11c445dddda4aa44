// Attributes and tags (docs/protocol.md §3.5–3.6): at most 200 per request, names non-empty.
#pragma once

#include <enos/device/core/detail/json_fields.hpp>
#include <enos/device/core/detail/payload_writer.hpp>
#include <enos/device/core/limits.hpp>
#include <enos/device/core/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace enos::device {

namespace detail {

/// {"params":{"<key>":[names...]}} for the query and delete methods.
inline Status encode_name_list(std::string& out, std::string_view id, std::string_view method,
                               std::string_view params_head, std::string_view field,
                               const std::vector<std::string>& names, std::size_t limit) {
    PayloadWriter w(out);
    if (!w.begin_request(id, method) || !w.at_most(names.size(), limit, field)) return w.error();
    w.raw(params_head);
    if (!w.names(names, field)) return w.error();
    w.raw("}}");
    return w.finish();
}

} // namespace detail

/// thing.attribute.query; no names = all attributes.
inline Status encode_attribute_query(std::string& out, std::string_view id,
                                     const std::vector<std::string>& names) {
    return detail::encode_name_list(out, id, "thing.attribute.query",
                                    ",\"params\":{\"attributes\":", "params.attributes", names,
                                    limits::max_attributes);
}

/// thing.attribute.update: identifier -> value.
inline Status encode_attribute_update(std::string& out, std::string_view id, const Points& attributes) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, "thing.attribute.update") ||
        !w.at_most(attributes.size(), limits::max_attributes, "params.attributes"))
        return w.error();
    w.raw(",\"params\":{\"attributes\":");
    if (!w.points(attributes, "params.attributes")) return w.error();
    w.raw("}}");
    return w.finish();
}

/// thing.attribute.delete; no names = nothing deleted.
inline Status encode_attribute_delete(std::string& out, std::string_view id,
                                      const std::vector<std::string>& names) {
    return detail::encode_name_list(out, id, "thing.attribute.delete",
                                    ",\"params\":{\"attributes\":", "params.attributes", names,
                                    limits::max_attributes);
}

/// thing.tag.query; no names = all tags.
inline Status encode_tag_query(std::string& out, std::string_view id, const std::vector<std::string>& names) {
    return detail::encode_name_list(out, id, "thing.tag.query", ",\"params\":{\"tags\":", "params.tags",
                                    names, limits::max_tags);
}

/// thing.tag.update: key -> value pairs, both non-empty; params is an array of {tagKey, tagValue}.
inline Status encode_tag_update(std::string& out, std::string_view id,
                                const std::vector<std::pair<std::string, std::string>>& tags) {
    detail::PayloadWriter w(out);
    if (!w.begin_request(id, "thing.tag.update") || !w.at_most(tags.size(), limits::max_tags, "params"))
        return w.error();
    w.raw(",\"params\":[");
    for (std::size_t i = 0; i < tags.size(); ++i) {
        if (i != 0) w.raw(',');
        w.raw("{\"tagKey\":");
        if (!w.required_string(tags[i].first, {"params", i, ".tagKey"})) return w.error();
        w.raw(",\"tagValue\":");
        if (!w.required_string(tags[i].second, {"params", i, ".tagValue"})) return w.error();
        w.raw('}');
    }
    w.raw("]}");
    return w.finish();
}

/// thing.tag.delete
inline Status encode_tag_delete(std::string& out, std::string_view id,
                                const std::vector<std::string>& names) {
    return detail::encode_name_list(out, id, "thing.tag.delete", ",\"params\":{\"tags\":", "params.tags",
                                    names, limits::max_tags);
}

/// "data" of a thing.attribute.query reply: attribute -> value.
inline Result<Points> decode_attribute_query_reply(std::string_view data_json) {
    return detail::decode_as<Points>(data_json, "data");
}

/// "data" of a thing.tag.query reply: tag key -> value (strings on the platform).
inline Result<Points> decode_tag_query_reply(std::string_view data_json) {
    return detail::decode_as<Points>(data_json, "data");
}

} // namespace enos::device
