// The simulator's SQLite store (RUNDIR/hub.db, WAL mode so readers never block the writer). The
// simulator keeps its working state in memory and mirrors every change here through one writer thread
// that commits in batches: whatever queued up while the previous transaction committed goes into the
// next one, so a burst of measure points costs one commit per batch, not one per row.
//
// Every SQL statement of the simulator, the injection commands and `enos-hub query` lives behind the
// methods of Store (store.cpp: schema, writer, loading and changes; store_query.cpp: what other
// processes read and write; store_database.{hpp,cpp}: the SQLite connection underneath). The schema
// is documented in tools/hub/README.md.
#pragma once

#include "common.hpp"

#include "../registry.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace enos::hub::sim {

class Database; // one SQLite connection, private to store.cpp

/// A name and its stored text: an attribute and its JSON, a tag key and its value, a measure point
/// and its JSON.
using NamedText = std::pair<std::string, std::string>;

/// A row of the devices table: a device whose state differs from the registry file.
struct StoredDevice {
    std::string product_key, device_key;
    std::optional<std::string> secret; ///< only for devices created by registration
    bool enabled = true;
    bool deleted = false;
    bool registered = false;            ///< created by thing.device.register, not from the registry
    std::optional<std::string> details; ///< JSON of the registration request
};

/// A sub-device attached to a gateway.
struct TopologyLink {
    DeviceRef gateway, sub_device;
};

/// One named value of one device: an attribute (value is JSON) or a tag (value is plain text).
struct DeviceValue {
    std::string product_key, device_key, name, value;
};

struct StoredActivation {
    std::string product_key, device_key, secret;
    bool activated = false;
};

/// One event to record: the device, the event id and its parameters as JSON.
struct EventRecord {
    std::string device_key, event_id, params_json;
    std::int64_t time = 0;
};

/// A downstream command sent by an injection command, and what came back.
struct CommandRecord {
    std::string product_key, device_key, command, request_id, topic, payload, reply_topic;
    std::int64_t sent_at = 0;
    std::optional<std::string> reply; ///< none: no reply in time
    std::optional<std::int64_t> reply_code;
    std::optional<std::int64_t> replied_at;
};

/// What the registry seeds on the very first start.
struct RegistrySeed {
    std::vector<TopologyLink> topology;
    std::vector<DeviceValue> attributes, tags;
};

/// How `enos-hub query` writes one field of a stored row.
enum class FieldType { text, integer, json, flag, bytes };

/// One field of a row read for `enos-hub query`; `text` holds text, JSON and bytes, `number` integers
/// and flags.
struct StoredField {
    std::string_view name;
    FieldType type = FieldType::text;
    bool is_null = false;
    std::string text;
    std::int64_t number = 0;
};

class Store {
public:
    enum class Access { read_only, read_write };

    /// The simulator's store: opens (creating if needed) the file, switches it to WAL and creates the
    /// schema. Writes go through the writer thread once start() ran.
    static Result<std::unique_ptr<Store>> open(const std::string& path);
    /// A store the simulator created, for another process (query, the injection commands): the schema
    /// is left alone and there is no writer thread.
    static Result<std::unique_ptr<Store>> open_existing(const std::string& path, Access access);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // ---- loading, before start() -------------------------------------------------------------------

    /// On the first start only, writes what the registry seeds and marks the store as seeded.
    Status seed_once(const RegistrySeed& seed, std::int64_t now);
    Result<std::vector<StoredDevice>> load_devices();
    /// In the order the links were made (a gateway lists its sub-devices in that order).
    Result<std::vector<TopologyLink>> load_topology();
    Result<std::vector<DeviceValue>> load_attributes();
    Result<std::vector<DeviceValue>> load_tags();
    Result<std::vector<StoredActivation>> load_activations();
    /// A simulator that starts has no gateway connected through it: no sub-device is logged in.
    Status clear_sessions();

    // ---- the writer thread --------------------------------------------------------------------------

    void start();
    /// Commits everything queued and stops the writer.
    void stop();

    // ---- changes, queued and committed with the next batch ----------------------------------------
    // They block only when the queue is full. Failures are logged: the reply has gone out already.

    /// Inserts or updates a device; a missing secret or details keeps the stored one.
    /// `wait`: return only once the row is committed (a reader in another process needs it at once).
    void save_device(StoredDevice device, std::int64_t updated_at, bool wait = false);
    void save_activation(std::string product_key, std::string device_key, std::string secret, bool activated);
    /// Marks an activation confirmed and waits until that is committed: the broker plugin reads the
    /// row when the device reconnects with its new secret.
    void confirm_activation(std::string product_key, std::string device_key);
    void add_sub_devices(DeviceRef gateway, std::vector<DeviceRef> sub_devices, std::int64_t added_at);
    void remove_sub_devices(std::vector<DeviceRef> sub_devices);
    void open_session(DeviceRef gateway, DeviceRef sub_device, std::string asset_id,
                      std::int64_t logged_in_at);
    void end_session(DeviceRef sub_device);
    void end_sessions_of_gateway(DeviceRef gateway);
    void set_attributes(DeviceRef device, std::vector<NamedText> attributes_json, std::int64_t updated_at);
    void delete_attributes(DeviceRef device, std::vector<std::string> names);
    void set_tags(DeviceRef device, std::vector<NamedText> tags, std::int64_t updated_at);
    void delete_tags(DeviceRef device, std::vector<std::string> tag_keys);

    void record_measurepoints(DeviceRef device, std::vector<NamedText> points_json, std::int64_t time,
                              bool resumed, std::int64_t received_at, std::string request_id);
    void record_events(std::string product_key, std::vector<EventRecord> events, std::int64_t received_at,
                       std::string request_id);
    void record_ota_version(DeviceRef device, std::string version, std::int64_t reported_at,
                            std::string request_id);
    void record_ota_progress(DeviceRef device, std::string step, std::optional<std::string> description,
                             std::int64_t reported_at, std::string request_id);
    void record_log(DeviceRef device, std::string logs_json, std::int64_t time, std::int64_t received_at,
                    std::string request_id);
    void record_network_status(DeviceRef device, std::string report_json, std::int64_t report_time,
                               std::int64_t received_at, std::string request_id);
    void record_connection_state(DeviceRef device, std::string report_json,
                                 std::optional<std::int64_t> report_time, std::int64_t received_at,
                                 std::string request_id);
    /// `reply`: the bytes sent back, none when the message was discarded.
    void record_raw_message(DeviceRef device, std::string topic, std::string payload,
                            std::optional<std::string> reply, std::int64_t received_at);
    /// A connect or disconnect the broker plugin announced.
    void record_connection(DeviceRef device, std::optional<std::string> client_id,
                           std::optional<std::int64_t> secure_mode, const char* event, std::int64_t at);

    // ---- for the other processes ------------------------------------------------------------------

    /// Written at once (the injection commands have no writer thread).
    Status record_command(const CommandRecord& command);

    /// The kinds of rows `enos-hub query` prints, in the order of its usage text.
    static std::vector<std::string_view> row_kinds();
    static bool is_row_kind(std::string_view kind);
    /// Calls `row` for every stored row of `kind` (of that product and device key, when given), oldest
    /// first. Topology and sessions match the keys as gateway or as sub-device.
    Status each_row_of(std::string_view kind, const std::optional<std::string>& product_key,
                       const std::optional<std::string>& device_key,
                       const std::function<void(const std::vector<StoredField>&)>& row);

private:
    using Task = std::function<void(Database&)>;

    explicit Store(std::unique_ptr<Database> db);
    void submit(Task task);
    void submit_and_wait(Task task);
    void write_loop();

    struct Entry {
        Task task;
        std::shared_ptr<std::promise<void>> committed;
    };

    std::unique_ptr<Database> db_;
    std::mutex mutex_;
    std::condition_variable work_ready_, space_ready_;
    std::deque<Entry> queue_;
    bool stopping_ = false;
    std::thread writer_;
};

} // namespace enos::hub::sim
