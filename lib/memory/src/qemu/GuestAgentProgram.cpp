// run_by_guest_agent: guest-exec and guest-exec-status, through libvirt or the agent's socket.
#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <thread>

#include <nlohmann/json.hpp>

#include "qemu/LibvirtAgentChannel.hpp"
#include "qemu/QgaSocket.hpp"
#include "vmi/base/Base64.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuGuestAgent.hpp"

namespace vmi {
namespace {

// QEMU's agent keeps at most 16 MiB of each stream (GUEST_EXEC_MAX_OUTPUT);
// base64 makes that 4/3 larger. Anything longer is not from a real agent.
constexpr std::size_t MAX_ENCODED_OUTPUT = (16u << 20) / 3 * 4 + 4;

std::string decoded_stream(const nlohmann::json& status, const char* key, const std::string& who)
{
    if (!status.contains(key)) return {};
    const nlohmann::json& data = status[key];
    if (!data.is_string()) fail("{}: guest-exec-status's {} is not a string", who, key);
    const auto& text = data.get_ref<const std::string&>();
    if (text.size() > MAX_ENCODED_OUTPUT) fail("{}: guest-exec-status's {} is larger than an agent sends", who, key);
    std::optional<std::string> bytes = decode_base64(text);
    if (!bytes) fail("{}: guest-exec-status's {} is not base64", who, key);
    return std::move(*bytes);
}

bool flag(const nlohmann::json& status, const char* key)
{
    return status.contains(key) && status[key].is_boolean() && status[key].get<bool>();
}

} // namespace

std::string describe_guest_agent(const GuestAgentEndpoint& agent)
{
    if (!agent.libvirt_domain.empty())
        return fmt::format("the guest agent of libvirt domain '{}'", agent.libvirt_domain);
    return fmt::format("the guest agent of {} (socket {})", agent.vm, agent.socket);
}

GuestCommandResult run_by_guest_agent(const GuestAgentEndpoint& agent, const std::string& path,
                                      const std::vector<std::string>& args, std::chrono::milliseconds timeout)
{
    using Clock = std::chrono::steady_clock;
    auto deadline = Clock::now() + timeout;
    int call_limit_ms = static_cast<int>(std::clamp<std::int64_t>(timeout.count(), 2000, 30000));
    std::string who = describe_guest_agent(agent);
    std::unique_ptr<GuestAgentChannel> channel;
    struct stat socket_status {};
    if (agent.libvirt_domain.empty() && ::stat(agent.socket.c_str(), &socket_status) != 0 && errno == ENOENT)
        fail("{} has no guest agent socket ({}): its agent is not enabled", agent.vm, agent.socket);
    if (!agent.libvirt_domain.empty())
        channel = std::make_unique<LibvirtAgentChannel>(agent.libvirt_uri, agent.libvirt_domain, call_limit_ms);
    else channel = std::make_unique<QgaSocket>(agent.socket, who, std::chrono::milliseconds(call_limit_ms));

    nlohmann::json started = channel->command("guest-exec", {{"path", path}, {"arg", args}, {"capture-output", true}});
    if (!started.is_object() || !started.contains("pid") || !started["pid"].is_number_integer())
        fail("{}: guest-exec gave no pid", who);
    GuestCommandResult result;
    result.pid = started["pid"].get<std::int64_t>();

    auto pause = std::chrono::milliseconds(10);
    for (;;) {
        nlohmann::json status = channel->command("guest-exec-status", {{"pid", result.pid}});
        if (!status.is_object() || !status.contains("exited") || !status["exited"].is_boolean())
            fail("{}: guest-exec-status gave no 'exited'", who);
        if (status["exited"].get<bool>()) {
            if (status.contains("signal") && status["signal"].is_number_integer()) {
                result.signal = status["signal"].get<int>();
                result.exit_code = -1;
            } else if (status.contains("exitcode") && status["exitcode"].is_number_integer()) {
                result.exit_code = status["exitcode"].get<int>();
            }
            result.out = decoded_stream(status, "out-data", who);
            result.err = decoded_stream(status, "err-data", who);
            result.truncated = flag(status, "out-truncated") || flag(status, "err-truncated");
            return result;
        }
        if (Clock::now() + pause > deadline)
            fail("{}: '{}' (pid {} in the guest) did not end within {} ms; it is left running there", who, path,
                 result.pid, timeout.count());
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(200));
    }
}

} // namespace vmi
