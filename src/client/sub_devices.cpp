// A gateway's sub-device sessions (docs/client.md, "Gateway"): batch logins in chunks, what the
// client remembers of each sub-device, logging them in again after every reconnect before the
// offline queue replays, the cloud's enable/disable/delete notices, and the handlers of one
// sub-device.
//
// Memory: a remembered sub-device costs one hash-map node with its "pk/dk" key, its secret and a
// state byte; its command topics are built when they are subscribed and not kept.
#include "client/client_core.hpp"
#include "client/offline_sender.hpp"

#include <enos/device/core/limits.hpp>
#include <enos/device/core/payload.hpp>
#include <enos/device/core/topics.hpp>

#include <algorithm>
#include <unordered_map>

namespace enos::device::detail {
namespace {

std::string key_of(std::string_view pk, std::string_view dk) {
    std::string key;
    key.reserve(pk.size() + 1 + dk.size());
    key.append(pk).append(1, '/').append(dk);
    return key;
}

/// Keys never contain '/' (check_key), so "pk/dk" splits back unambiguously.
DeviceIdentity identity_of(const std::string& key) {
    const std::size_t slash = key.find('/');
    return {key.substr(0, slash), key.substr(slash + 1)};
}

/// The command topics the gateway subscribes for a sub-device once it is logged in.
void add_command_topics(std::vector<std::string>& topics, const std::string& pk, const std::string& dk) {
    topics.push_back(command_topic(DownKind::service_invoke, pk, dk, "+"));
    topics.push_back(command_topic(DownKind::measurepoint_set, pk, dk));
    topics.push_back(command_topic(DownKind::measurepoint_get, pk, dk));
    topics.push_back(command_topic(DownKind::rrpc_request, pk, dk, "+"));
    topics.push_back(command_topic(DownKind::raw_down, pk, dk));
    topics.push_back(command_topic(DownKind::ota_upgrade, pk, dk));
}

} // namespace

struct ClientCore::LoginRun {
    std::vector<SubDeviceSecret> devices;
    /// Explicit logins: each sub-device's state before (restored if its login fails; unknown ones
    /// are forgotten again).
    std::vector<SubDeviceState> before;
    std::size_t next = 0; ///< first device of the next chunk
    std::chrono::milliseconds timeout{0};
    bool again = false;        ///< the logins after a reconnect (no report, the queue waits for them)
    std::uint64_t session = 0; ///< again: the link they belong to
    SubDeviceLoginReport report;

    std::mutex mutex;
    std::condition_variable cv;
    bool finished = false;

    void finish() {
        {
            std::lock_guard lock(mutex);
            finished = true;
        }
        cv.notify_all();
    }
};

// ---- state ---------------------------------------------------------------------------------------

SubDeviceState ClientCore::sub_device_state(const std::string& product_key,
                                            const std::string& device_key) const {
    const std::string key = key_of(product_key, device_key);
    std::lock_guard lock(sub_devices_mutex_);
    auto it = sub_devices_.find(key);
    return it == sub_devices_.end() ? SubDeviceState::unknown : it->second.state;
}

Status ClientCore::sub_device_admission(const std::string& product_key, const std::string& device_key) const {
    if (product_key == options_.product_key && device_key == options_.device_key) return {};
    const SubDeviceState state = sub_device_state(product_key, device_key);
    switch (state) {
    case SubDeviceState::unknown:
    case SubDeviceState::logged_in: return {};
    case SubDeviceState::disabled:
    case SubDeviceState::deleted:
        return Error{errc::sub_device_disabled, "sub-device " + product_key + "/" + device_key + " is " +
                                                    std::string(to_string(state)) + " by the cloud"};
    default:
        return Error{errc::sub_device_offline,
                     "sub-device " + product_key + "/" + device_key +
                         " is not logged in (its login failed); its queued message is not published"};
    }
}

void ClientCore::set_session_handler(SubDeviceSessionHandler handler) {
    auto shared = std::make_shared<const SubDeviceSessionHandler>(std::move(handler));
    std::lock_guard lock(handlers_mutex_);
    session_handler_ = std::move(shared);
}

void ClientCore::emit_session(SubDeviceSessionEvent event) {
    std::shared_ptr<const SubDeviceSessionHandler> handler;
    {
        std::lock_guard lock(handlers_mutex_);
        handler = session_handler_;
    }
    if (!handler || !*handler) return;
    std::weak_ptr<ClientCore> weak = weak_from_this();
    post([weak, handler, event = std::move(event)] {
        try {
            (*handler)(event);
        } catch (...) {
            if (auto core = weak.lock()) core->log(LogLevel::error, "sub-device session handler threw");
        }
    });
}

void ClientCore::forget_reply_subscriptions_locked(const std::string& product_key,
                                                   const std::string& device_key) {
    // The platform resets a sub-device's session at its login (docs/protocol.md §7.4): its reply
    // topics are subscribed again by the next request of each kind.
    const std::string prefix = "/sys/" + product_key + "/" + device_key + "/";
    for (auto it = reply_subscriptions_.lower_bound(prefix);
         it != reply_subscriptions_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
        if (it->second.state == SubState::active) it->second.state = SubState::none;
}

// ---- following replies and notices ---------------------------------------------------------------

void ClientCore::follow_sub_device_sessions(UpMethod method, const std::string& data_json) {
    std::vector<SubDeviceSession> opened;
    std::vector<DeviceIdentity> closed;
    if (method == UpMethod::sub_login) {
        if (auto session = decode_sub_login_reply(data_json)) opened.push_back(std::move(*session));
    } else if (method == UpMethod::sub_login_batch) {
        if (auto batch = decode_sub_login_batch_reply(data_json)) opened = std::move(batch->logged_in);
    } else if (method == UpMethod::sub_logout) {
        auto device = detail::decode_object<DeviceIdentity>(data_json, "data", detail::read_identity);
        if (device) closed.push_back(std::move(*device));
    }
    if (opened.empty() && closed.empty()) return;
    std::vector<DeviceIdentity> to_subscribe;
    std::vector<SubDeviceSessionEvent> events;
    {
        std::lock_guard lock(sub_devices_mutex_);
        for (SubDeviceSession& s : opened) {
            auto [it, inserted] = sub_devices_.try_emplace(key_of(s.product_key, s.device_key));
            // log_in_sub_devices follows its own logins (it marked them logging_in before sending).
            if (!inserted && it->second.state == SubDeviceState::logging_in) continue;
            it->second.state = SubDeviceState::logged_in;
            to_subscribe.push_back({s.product_key, s.device_key});
            SubDeviceSessionEvent e;
            e.kind = SubDeviceSessionEventKind::logged_in;
            e.device = {s.product_key, s.device_key};
            e.asset_id = std::move(s.asset_id);
            events.push_back(std::move(e));
        }
        for (DeviceIdentity& d : closed) {
            sub_devices_.erase(key_of(d.product_key, d.device_key));
            SubDeviceSessionEvent e;
            e.kind = SubDeviceSessionEventKind::logged_out;
            e.device = std::move(d);
            events.push_back(std::move(e));
        }
    }
    // Logins sent with send(): their command topics too (without waiting for the SUBACK).
    subscribe_sub_devices(to_subscribe, [] {});
    for (SubDeviceSessionEvent& e : events)
        emit_session(std::move(e));
}

void ClientCore::apply_sub_device_notice(CommandKind kind, const std::string& params_json) {
    auto devices = decode_sub_device_notice(params_json);
    if (!devices) return;
    SubDeviceSessionEvent event;
    event.kind = kind == CommandKind::sub_device_enable    ? SubDeviceSessionEventKind::enabled
                 : kind == CommandKind::sub_device_disable ? SubDeviceSessionEventKind::disabled
                                                           : SubDeviceSessionEventKind::deleted;
    {
        std::lock_guard lock(sub_devices_mutex_);
        for (const DeviceIdentity& d : *devices) {
            const std::string key = key_of(d.product_key, d.device_key);
            if (kind == CommandKind::sub_device_enable) {
                // Eligible again, but only through the application's next log_in_sub_devices.
                auto it = sub_devices_.find(key);
                if (it != sub_devices_.end() && (it->second.state == SubDeviceState::disabled ||
                                                 it->second.state == SubDeviceState::deleted)) {
                    it->second.state = SubDeviceState::offline;
                    it->second.secret.clear();
                    it->second.secret.shrink_to_fit();
                }
                continue;
            }
            // Remembered even if unknown so far: its sends fail at once instead of being dropped
            // silently by the broker.
            SubSession& s = sub_devices_[key];
            s.state =
                kind == CommandKind::sub_device_disable ? SubDeviceState::disabled : SubDeviceState::deleted;
        }
    }
    for (const DeviceIdentity& d : *devices) {
        SubDeviceSessionEvent e = event;
        e.device = d;
        emit_session(std::move(e));
    }
}

// ---- handlers of one sub-device ------------------------------------------------------------------

void ClientCore::set_sub_service_handler(const DeviceIdentity& device, std::string service_id,
                                         HandlerSlot slot) {
    const std::string key = key_of(device.product_key, device.device_key);
    std::lock_guard lock(handlers_mutex_);
    auto copy = std::make_shared<SubHandlers>();
    if (auto it = sub_handlers_.find(key); it != sub_handlers_.end()) *copy = *it->second;
    if (slot)
        copy->services[std::move(service_id)] = std::make_shared<const HandlerSlot>(std::move(slot));
    else
        copy->services.erase(service_id);
    sub_handlers_[key] = std::move(copy);
}

void ClientCore::set_sub_rrpc_handler(const DeviceIdentity& device, HandlerSlot slot) {
    const std::string key = key_of(device.product_key, device.device_key);
    std::lock_guard lock(handlers_mutex_);
    auto copy = std::make_shared<SubHandlers>();
    if (auto it = sub_handlers_.find(key); it != sub_handlers_.end()) *copy = *it->second;
    copy->rrpc = slot ? std::make_shared<const HandlerSlot>(std::move(slot)) : nullptr;
    sub_handlers_[key] = std::move(copy);
}

void ClientCore::set_sub_command_handler(const DeviceIdentity& device, CommandKind kind, HandlerSlot slot) {
    const std::string key = key_of(device.product_key, device.device_key);
    std::lock_guard lock(handlers_mutex_);
    auto copy = std::make_shared<SubHandlers>();
    if (auto it = sub_handlers_.find(key); it != sub_handlers_.end()) *copy = *it->second;
    if (slot)
        copy->commands[kind] = std::make_shared<const HandlerSlot>(std::move(slot));
    else
        copy->commands.erase(kind);
    sub_handlers_[key] = std::move(copy);
}

ClientCore::Slot ClientCore::find_sub_handler(const Command& command) const {
    if (command.product_key == options_.product_key && command.device_key == options_.device_key)
        return nullptr;
    const std::string key = key_of(command.product_key, command.device_key);
    std::lock_guard lock(handlers_mutex_);
    auto found = sub_handlers_.find(key);
    if (found == sub_handlers_.end()) return nullptr;
    const SubHandlers& own = *found->second;
    auto service = [&](const std::string& id) -> Slot {
        if (auto it = own.services.find(id); it != own.services.end()) return it->second;
        if (auto it = own.services.find(std::string(any_service)); it != own.services.end())
            return it->second;
        return nullptr;
    };
    switch (command.kind) {
    case CommandKind::service: return service(command.service_id);
    case CommandKind::rrpc: return own.rrpc ? own.rrpc : service(command.service_id);
    default: {
        auto it = own.commands.find(command.kind);
        return it == own.commands.end() ? nullptr : it->second;
    }
    }
}

// ---- logging in ----------------------------------------------------------------------------------

Result<SubDeviceLoginReport> ClientCore::log_in_sub_devices(std::vector<SubDeviceSecret> devices,
                                                            std::chrono::milliseconds timeout) {
    if (devices.empty()) return Error{errc::missing_argument, "no sub-devices to log in"};
    for (const SubDeviceSecret& d : devices) {
        if (Status s = check_key("product_key", d.product_key); !s) return s.error();
        if (Status s = check_key("device_key", d.device_key); !s) return s.error();
        if (d.secret.empty())
            return Error{errc::missing_argument,
                         "the secret of sub-device " + d.product_key + "/" + d.device_key + " is empty"};
        if (d.mode != SecureMode::static_secret && d.mode != SecureMode::dynamic_activation)
            return Error{errc::invalid_argument,
                         "sub-device " + d.product_key + "/" + d.device_key + ": secure mode must be 2 or 3"};
    }
    auto run = std::make_shared<LoginRun>();
    {
        std::lock_guard lock(mutex_);
        if (Status s = can_send_locked(); !s) return s.error();
        for (const SubDeviceSecret& d : devices)
            forget_reply_subscriptions_locked(d.product_key, d.device_key);
    }
    run->before.resize(devices.size(), SubDeviceState::unknown);
    {
        std::lock_guard lock(sub_devices_mutex_);
        for (std::size_t i = 0; i < devices.size(); ++i) {
            auto [it, inserted] =
                sub_devices_.try_emplace(key_of(devices[i].product_key, devices[i].device_key));
            if (!inserted) run->before[i] = it->second.state;
            it->second.state = SubDeviceState::logging_in;
        }
    }
    run->devices = std::move(devices);
    run->timeout = timeout;
    submit_login_chunk(run);
    std::unique_lock lock(run->mutex);
    run->cv.wait(lock, [&] { return run->finished; });
    return std::move(run->report);
}

void ClientCore::submit_login_chunk(const std::shared_ptr<LoginRun>& run) {
    const std::size_t begin = run->next;
    if (begin >= run->devices.size()) {
        if (run->again)
            finish_link_up(run->session, false);
        else
            run->finish();
        return;
    }
    const std::size_t end = std::min(begin + limits::max_batch_login, run->devices.size());
    run->next = end;
    up::SubDeviceLoginBatch batch;
    batch.devices.assign(run->devices.begin() + static_cast<std::ptrdiff_t>(begin),
                         run->devices.begin() + static_cast<std::ptrdiff_t>(end));
    batch.sign_method = options_.sign_method;
    batch.hex_case = options_.hex_case;
    Result<RequestBody> body = encode_body(batch, wall_clock_ms());
    SendOptions send;
    send.timeout = run->timeout;
    Result<PreparedRequest> request =
        body ? prepare(std::move(*body), send) : Result<PreparedRequest>(body.error());
    if (!request) {
        on_login_chunk(run, begin, end, request.error());
        return;
    }
    std::weak_ptr<ClientCore> weak = weak_from_this();
    const std::string key = PendingRequests::key(request->reply_topic, request->id);
    submit(
        std::move(*request),
        [weak, run, begin, end, key](Result<Response> result) {
            auto core = weak.lock();
            if (!core) { // the client is gone: nobody sends the rest
                if (!run->again) run->finish();
                return;
            }
            {
                std::lock_guard lock(core->mutex_);
                core->whole_reply_keys_.erase(key);
            }
            core->on_login_chunk(run, begin, end, std::move(result));
        },
        true);
}

void ClientCore::on_login_chunk(const std::shared_ptr<LoginRun>& run, std::size_t begin, std::size_t end,
                                Result<Response> result) {
    // What the reply says: code 200 = all logged in; another code with lists = partly; without = none.
    std::unordered_map<std::string, SubDeviceSession> confirmed;
    bool all_ok = false;
    Error failure;
    if (result) {
        all_ok = result->code == 200;
        if (auto lists = decode_sub_login_batch_reply(result->data_json))
            for (SubDeviceSession& s : lists->logged_in) {
                std::string key = key_of(s.product_key, s.device_key);
                confirmed.emplace(std::move(key), std::move(s));
            }
        failure = Error{make_cloud_error(result->code), result->message};
    } else {
        failure = result.error();
    }

    std::vector<DeviceIdentity> logged_in;
    std::vector<SubDeviceSessionEvent> events;
    std::size_t failed = 0;
    {
        std::lock_guard lock(sub_devices_mutex_);
        for (std::size_t i = begin; i < end; ++i) {
            const SubDeviceSecret& d = run->devices[i];
            const std::string key = key_of(d.product_key, d.device_key);
            auto found = confirmed.find(key);
            const bool ok = found != confirmed.end() || all_ok;
            auto entry = sub_devices_.find(key);
            SubDeviceSessionEvent e;
            e.device = {d.product_key, d.device_key};
            e.again = run->again;
            if (ok) {
                SubDeviceSession session{d.product_key, d.device_key, {}, {}};
                if (found != confirmed.end()) session = std::move(found->second);
                if (entry == sub_devices_.end() && !run->again) // logged out meanwhile? a login wins
                    entry = sub_devices_.try_emplace(key).first;
                if (entry != sub_devices_.end()) {
                    entry->second.state = SubDeviceState::logged_in;
                    // Secure mode 3 issues the secret that every later login uses (secure mode 2).
                    if (!session.device_secret.empty())
                        entry->second.secret = session.device_secret;
                    else if (d.mode == SecureMode::static_secret)
                        entry->second.secret = d.secret;
                    else
                        entry->second.secret.clear();
                }
                logged_in.push_back(e.device);
                e.kind = SubDeviceSessionEventKind::logged_in;
                e.asset_id = session.asset_id;
                if (!run->again) run->report.logged_in.push_back(std::move(session));
            } else {
                ++failed;
                if (entry != sub_devices_.end() && entry->second.state == SubDeviceState::logging_in) {
                    const SubDeviceState before = run->again ? SubDeviceState::offline : run->before[i];
                    if (before == SubDeviceState::unknown)
                        sub_devices_.erase(entry);
                    else if (before == SubDeviceState::disabled || before == SubDeviceState::deleted)
                        entry->second.state = before; // the cloud still refuses it
                    else
                        entry->second.state = SubDeviceState::offline;
                }
                e.kind = SubDeviceSessionEventKind::login_failed;
                e.error = failure;
                if (!run->again) run->report.failed.push_back({e.device, failure});
            }
            events.push_back(std::move(e));
        }
    }
    if (failed > 0)
        log(LogLevel::warn, std::to_string(failed) + " of " + std::to_string(end - begin) +
                                " sub-devices failed to log in" + (run->again ? " again" : "") + ": " +
                                failure.message());
    for (SubDeviceSessionEvent& e : events)
        emit_session(std::move(e));
    std::weak_ptr<ClientCore> weak = weak_from_this();
    subscribe_sub_devices(logged_in, [weak, run] {
        if (auto core = weak.lock())
            core->submit_login_chunk(run);
        else if (!run->again)
            run->finish();
    });
}

void ClientCore::subscribe_sub_devices(const std::vector<DeviceIdentity>& devices,
                                       std::function<void()> then) {
    if (devices.empty() || !options_.subscribe_commands) {
        then();
        return;
    }
    std::vector<std::string> topics;
    topics.reserve(devices.size() * 6);
    for (const DeviceIdentity& d : devices)
        add_command_topics(topics, d.product_key, d.device_key);
    // One SUBSCRIBE for the whole chunk; `then` runs once its SUBACK (or the link's end) is known.
    std::weak_ptr<ClientCore> weak = weak_from_this();
    auto next = std::make_shared<std::function<void()>>(std::move(then));
    const std::size_t count = devices.size();
    Status s = transport_->subscribe(topics, 1, [weak, next, count](Result<std::vector<bool>> granted) {
        const bool all = granted && std::all_of(granted->begin(), granted->end(), [](bool b) { return b; });
        if (!all)
            if (auto core = weak.lock())
                core->log(LogLevel::warn,
                          "command subscriptions of " + std::to_string(count) +
                              " sub-devices not (all) granted: " +
                              (granted ? std::string("refused by the broker") : granted.error().message()));
        (*next)();
    });
    if (!s) {
        log(LogLevel::warn, "command subscriptions of " + std::to_string(count) +
                                " sub-devices not sent: " + s.error().message());
        (*next)();
    }
}

Status ClientCore::log_out_sub_device(const DeviceIdentity& device) {
    if (Status s = check_key("product_key", device.product_key); !s) return s;
    if (Status s = check_key("device_key", device.device_key); !s) return s;
    Result<RequestBody> body =
        encode_body(up::SubDeviceLogout{device.product_key, device.device_key}, wall_clock_ms());
    if (!body) return body.error();
    Result<PreparedRequest> request = prepare(std::move(*body), SendOptions{});
    if (!request) return request.error();
    Result<Response> reply = send_blocking(std::move(*request));
    // Forgotten whatever the answer: the application no longer wants this session kept.
    {
        std::lock_guard lock(sub_devices_mutex_);
        sub_devices_.erase(key_of(device.product_key, device.device_key));
    }
    if (!reply) return reply.error();
    return {};
}

// ---- reconnects ----------------------------------------------------------------------------------

void ClientCore::end_sub_device_sessions() {
    std::lock_guard lock(sub_devices_mutex_);
    for (auto& [key, s] : sub_devices_) {
        if (s.state != SubDeviceState::logged_in && s.state != SubDeviceState::logging_in) continue;
        // Sessions end with the link. Without a secret (logged in with send()) it cannot come back.
        s.state = s.secret.empty() ? SubDeviceState::offline : SubDeviceState::logging_in;
    }
}

bool ClientCore::start_relogin(std::uint64_t session) {
    auto run = std::make_shared<LoginRun>();
    run->again = true;
    run->session = session;
    {
        std::lock_guard lock(sub_devices_mutex_);
        for (auto& [key, s] : sub_devices_) {
            if (s.secret.empty()) continue;
            if (s.state != SubDeviceState::logging_in && s.state != SubDeviceState::offline) continue;
            s.state = SubDeviceState::logging_in;
            DeviceIdentity d = identity_of(key);
            run->devices.push_back(
                {std::move(d.product_key), std::move(d.device_key), s.secret, SecureMode::static_secret});
        }
    }
    if (run->devices.empty()) return false;
    log(LogLevel::info, "logging " + std::to_string(run->devices.size()) +
                            " sub-devices in again before the offline queue replays");
    submit_login_chunk(run);
    return true;
}

} // namespace enos::device::detail
