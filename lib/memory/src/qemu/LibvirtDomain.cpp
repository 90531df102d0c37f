#include "qemu/LibvirtDomain.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "pause/SignalFreeThread.hpp"
#include "pause/SignalSafeCommand.hpp"
#include "qemu/LibvirtApi.hpp"
#include "qemu/NovaInstance.hpp"
#include "qemu/QemuJson.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/HostRoot.hpp"
#include "vmi/memory/QemuGuest.hpp"
#include "vmi/memory/QemuProcesses.hpp"

namespace vmi {
namespace {

const LibvirtApi& api() { return LibvirtApi::get(); }

// libvirt prints every error to stderr by default; we report them ourselves.
void quiet(void*, virErrorPtr) {}

std::string last_libvirt_error()
{
    const char* message = api().virGetLastErrorMessage();
    return message ? message : "unknown libvirt error";
}

const char* state_name(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting down";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "suspended by guest power management";
    default: return "in an unknown state";
    }
}

// libvirt keeps the QEMU pid here (under the host root); readable by root
// (and libvirt's user).
int read_qemu_pid(const std::string& name)
{
    for (const char* dir : {"/run/libvirt/qemu", "/var/run/libvirt/qemu"}) {
        std::ifstream in(host_path(std::string(dir) + "/" + name + ".pid"));
        int pid = 0;
        if (in >> pid && pid > 0) return pid;
    }
    return 0;
}

// A word as a POSIX shell reads it back: as it is when plain, else quoted.
std::string shell_word(const std::string& word)
{
    bool plain = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789-_./:+=@%,") == std::string::npos;
    if (plain) return word;
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The URI as another process can use it: a /proc/self/fd/N/ folder in its
// socket path (KubevirtNode's way round a long pod path) replaced by the
// folder itself.
std::string uri_outside(const std::string& uri)
{
    constexpr std::string_view SELF_FD = "/proc/self/fd/";
    std::size_t at = uri.find(SELF_FD);
    if (at == std::string::npos) return uri;
    std::size_t end = uri.find('/', at + SELF_FD.size());
    if (end == std::string::npos) return uri;
    std::error_code error;
    std::filesystem::path folder = std::filesystem::read_symlink(uri.substr(at, end - at), error);
    return error ? uri : uri.substr(0, at) + folder.string() + uri.substr(end);
}

} // namespace

struct LibvirtDomain::Handles {
    virConnectPtr connection = nullptr;
    virDomainPtr domain = nullptr;
    // A call that did not return in time may still be inside libvirt with
    // these handles: they are then never freed.
    bool abandoned = false;
    ~Handles()
    {
        if (abandoned) return;
        if (domain) api().virDomainFree(domain);
        if (connection) api().virConnectClose(connection);
    }
};

struct LibvirtDomain::Answer {
    int status = -1;
    std::string text;
};

namespace {

// The state one libvirt call shares with the thread that runs it; it
// outlives the caller when the call is given up.
struct PendingCall {
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    int status = -1;
    std::string error;
    char* text = nullptr;
    PendingCall() = default;
    PendingCall(const PendingCall&) = delete;
    PendingCall& operator=(const PendingCall&) = delete;
    ~PendingCall() { free(text); } // NOLINT: libvirt allocates with malloc
};

} // namespace

LibvirtDomain::LibvirtDomain(const std::string& uri, const std::string& name, int timeout_ms)
    : handles_(std::make_shared<Handles>()),
      uri_(uri.empty() ? DEFAULT_LIBVIRT_URI : uri),
      name_(name),
      timeout_ms_(timeout_ms)
{
    api().virSetErrorFunc(nullptr, quiet);
    handles_->connection = api().virConnectOpen(uri_.c_str());
    if (!handles_->connection)
        fail("cannot reach libvirt at '{}': {} (is libvirtd running, and may this user use it?)", uri_,
             last_libvirt_error());
    handles_->domain = api().virDomainLookupByName(handles_->connection, name_.c_str());
    if (!handles_->domain) {
        // An OpenStack compute node: the name may be a Nova instance's (or its uuid).
        handles_->domain = find_nova_domain(api(), handles_->connection, name_);
        if (!handles_->domain)
            fail("no libvirt domain '{}' at '{}' (nor a Nova instance of that name or uuid)", name_, uri_);
        const char* domain_name = api().virDomainGetName(handles_->domain);
        if (!domain_name) fail("libvirt at '{}': the Nova instance '{}' has no domain name", uri_, name_);
        diag::note("Nova instance '{}' is libvirt domain '{}'", name_, domain_name);
        name_ = domain_name;
    }
    int now = state();
    if (now != VIR_DOMAIN_RUNNING && now != VIR_DOMAIN_PAUSED && now != VIR_DOMAIN_BLOCKED)
        fail("libvirt domain '{}' is not running ({})", name_, state_name(now));
    pid_ = read_qemu_pid(name_);
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (api().virDomainGetUUIDString(handles_->domain, uuid) == 0) uuid_ = uuid;
    if (pid_ == 0 && !uuid_.empty()) {
        // No pid file in sight (a KubeVirt pod's daemon keeps it in the pod):
        // the QEMU that libvirt started with the domain's -uuid, if one only.
        std::vector<int> pids = qemu_pids_with_uuid(uuid_);
        if (pids.size() == 1) {
            pid_ = pids[0];
            diag::note("{}: QEMU pid {} found by its -uuid {} (no pid file of libvirt's in sight)", describe(), pid_,
                       uuid_);
        } else if (pids.size() > 1) {
            diag::note("{}: {} QEMU processes say -uuid {}: none taken, guest RAM through the monitor", describe(),
                       pids.size(), uuid_);
        }
    }

    resume_by_virsh_ =
        std::make_unique<SignalSafeCommand>("virsh", std::vector<std::string>{"-c", uri_, "resume", name_});
}

LibvirtDomain::~LibvirtDomain() = default;

LibvirtDomain::Answer LibvirtDomain::call(const std::string& what, std::function<int(void*, char**)> function)
{
    if (handles_->abandoned) fail("{}: cannot {}: libvirt stopped answering earlier", describe(), what);
    auto pending = std::make_shared<PendingCall>();
    std::shared_ptr<Handles> handles = handles_;
    std::thread worker = signal_free_thread([pending, handles, function = std::move(function)] {
        char* text = nullptr;
        int status = function(handles->domain, &text);
        // libvirt's last error is per thread: read it on this one.
        std::string error = status < 0 ? last_libvirt_error() : std::string();
        std::lock_guard lock(pending->mutex);
        pending->status = status;
        pending->error = std::move(error);
        pending->text = text;
        pending->done = true;
        pending->finished.notify_all();
    });
    std::unique_lock lock(pending->mutex);
    if (!pending->finished.wait_for(lock, std::chrono::milliseconds(timeout_ms_), [&] { return pending->done; })) {
        lock.unlock();
        handles_->abandoned = true;
        worker.detach();
        fail("{}: cannot {}: libvirt did not answer within {} ms (is the QEMU process stopped or hung?)", describe(),
             what, timeout_ms_);
    }
    lock.unlock();
    worker.join();
    if (pending->status < 0) fail("{}: cannot {}: {}", describe(), what, pending->error);
    return {pending->status, pending->text ? std::string(pending->text) : std::string()};
}

std::string LibvirtDomain::describe() const
{
    return fmt::format("libvirt domain '{}' ({})", name_, uri_outside(uri_));
}

std::string LibvirtDomain::guest_key() const { return "libvirt-" + (uuid_.empty() ? name_ : uuid_); }

std::string LibvirtDomain::resume_command() const
{
    std::string uri = uri_outside(uri_);
    // A KubeVirt VM's daemon listens in its pod, at a socket path longer than
    // virsh can connect to: KubeVirt's own tool resumes it, by NAMESPACE_VM.
    std::size_t split = name_.find('_');
    if (uri.find("/var/lib/kubelet/pods/") != std::string::npos && split != std::string::npos && split > 0)
        return fmt::format("virtctl unpause vmi {} -n {}", shell_word(name_.substr(split + 1)),
                           shell_word(name_.substr(0, split)));
    return fmt::format("virsh -c {} resume {}", shell_word(uri), shell_word(name_));
}

void LibvirtDomain::cont_from_signal_handler() noexcept
{
    // libvirt cannot be called from a signal handler: run virsh, prepared
    // beforehand, and wait a bounded time for it.
    if (resume_by_virsh_) resume_by_virsh_->run(10000);
}

namespace {

// The "return" value of a QMP-style reply `text` (QEMU's monitor and its
// guest agent answer alike) to command `name`, asked of `who`.
nlohmann::json returned_value(const std::string& text, const std::string& who, const std::string& name)
{
    nlohmann::json reply = nlohmann::json::parse(text, nullptr, false);
    if (reply.is_discarded()) fail("{}: the answer to {} is not JSON", who, name);
    return qemu_returned_value(reply, who, name);
}

} // namespace

nlohmann::json LibvirtDomain::command(const std::string& name, const nlohmann::json& arguments)
{
    std::string text =
        call(fmt::format("run QEMU monitor command {}", name), [request = qemu_request(name, arguments).dump()](
                                                                   void* domain, char** result) {
            return api().virDomainQemuMonitorCommand(static_cast<virDomainPtr>(domain), request.c_str(), result, 0);
        }).text;
    return returned_value(text, describe(), name);
}

nlohmann::json LibvirtDomain::agent_command(const std::string& name, const nlohmann::json& arguments)
{
    // libvirt's own wait for the agent, in seconds, inside our time limit.
    int agent_wait_s = std::max(1, timeout_ms_ / 2000);
    std::string text =
        call(fmt::format("ask its guest agent ({})", name), [request = qemu_request(name, arguments).dump(),
                                                             agent_wait_s](void* domain, char** result) {
            *result =
                api().virDomainQemuAgentCommand(static_cast<virDomainPtr>(domain), request.c_str(), agent_wait_s, 0);
            return *result ? 0 : -1;
        }).text;
    return returned_value(text, describe() + "'s guest agent", name);
}

void LibvirtDomain::stop()
{
    call("pause", [](void* domain, char**) { return api().virDomainSuspend(static_cast<virDomainPtr>(domain)); });
}

void LibvirtDomain::cont()
{
    call("resume", [](void* domain, char**) { return api().virDomainResume(static_cast<virDomainPtr>(domain)); });
}

int LibvirtDomain::state()
{
    return call("get its state",
                [](void* domain, char**) {
                    int got = 0, reason = 0;
                    return api().virDomainGetState(static_cast<virDomainPtr>(domain), &got, &reason, 0) == 0 ? got : -1;
                })
        .status;
}

bool LibvirtDomain::running()
{
    int now = state();
    return now == VIR_DOMAIN_RUNNING || now == VIR_DOMAIN_BLOCKED;
}

} // namespace vmi
