#include "common/CheckOutlets.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/ToolMain.hpp"
#include "vmi/base/AtomicFileWrite.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// The file a writer holds (flock) while it reads, merges and replaces the
// textfile, so that checks run side by side lose no series.
class FileLock {
public:
    explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644))
    {
        if (fd_ < 0) fail("cannot open the lock file {}: {}", path, std::strerror(errno));
        while (::flock(fd_, LOCK_EX) != 0)
            if (errno != EINTR) fail("cannot lock {}: {}", path, std::strerror(errno));
    }
    ~FileLock() { ::close(fd_); }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_;
};

// The file's text; empty when it does not exist. At most `limit` bytes: a
// bigger file is not one of ours.
std::string read_small_file(const std::string& path, std::size_t limit)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return {};
        fail("cannot read {}: {}", path, std::strerror(errno));
    }
    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > limit) {
            ::close(fd);
            fail("{} is over {} MiB: not a vmitools textfile", path, limit >> 20);
        }
    }
    ::close(fd);
    return text;
}

double now_seconds()
{
    using namespace std::chrono;
    return static_cast<double>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()) / 1000.0;
}

} // namespace

void add_check_outlet_options(CLI::App& app, CheckOutletOptions& options)
{
    app.add_option("--prometheus", options.prometheus,
                   "With --check: also write the outcome to FILE in node_exporter's textfile format "
                   "(vmi_check_findings, vmi_check_errors, vmi_check_duration_seconds, "
                   "vmi_check_last_success_timestamp_seconds), merged with what other checks wrote there")
        ->type_name("FILE");
    app.add_option("--journal", options.journal,
                   "With --check: send each finding and error to systemd's journal as a structured entry "
                   "(MESSAGE_ID, VMI_DOMAIN, VMI_CHECK, VMI_PID, VMI_MODULE, ...): auto (when the tool's output "
                   "goes to the journal, as in a systemd unit), yes or no")
        ->type_name("WHEN");
}

std::string domain_label(const GuestOptions& options)
{
    if (!options.vm.empty()) return options.vm;
    if (!options.image.empty()) return options.image;
    if (!options.qmp.empty()) return options.qmp;
    if (!options.domid.empty()) return "domid:" + options.domid;
    if (!options.qemu_pid.empty()) return "qemu-pid:" + options.qemu_pid;
    return "unknown";
}

CheckOutlets::CheckOutlets(const CheckOutletOptions& options, std::string check)
    : path_(options.prometheus), journal_(journal_wanted(parse_journal_mode(options.journal))), check_(std::move(check))
{}

CheckStatus CheckOutlets::measure(const std::string& domain, const std::function<CheckStatus()>& run)
{
    seen_.push_back(domain);
    auto start = std::chrono::steady_clock::now();
    auto outcome_of = [&](const CheckStatus& status) {
        CheckOutcome outcome;
        outcome.domain = domain;
        outcome.findings = status.findings;
        outcome.errors = status.errors;
        outcome.completed = status.exit != EXIT_ERROR;
        outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return outcome;
    };
    CheckStatus status;
    try {
        status = run();
    } catch (const Error& e) {
        CheckOutcome failed = outcome_of({EXIT_ERROR, 0, 1, {}});
        write_textfile(&failed, false);
        journal(domain, {{JOURNAL_PRIORITY_ERROR,
                          JOURNAL_CHECK_ERROR,
                          fmt::format("{}: the {} check could not run: {}", domain, check_, e.what()),
                          {}}});
        throw;
    }
    CheckOutcome outcome = outcome_of(status);
    write_textfile(&outcome, false);
    journal(domain, status.journal);
    return status;
}

void CheckOutlets::finish_all_domains() { write_textfile(nullptr, true); }

void CheckOutlets::journal(const std::string& domain, const std::vector<JournalEntry>& entries)
{
    if (!journal_) return;
    try {
        for (JournalEntry entry : entries) {
            entry.fields.insert(entry.fields.begin(), {{"VMI_DOMAIN", domain}, {"VMI_CHECK", check_}});
            send_to_journal(entry);
        }
    } catch (const Error& e) {
        report_error(fmt::format("--journal: {}", e.what()));
    }
}

void CheckOutlets::write_textfile(const CheckOutcome* outcome, bool all_domains_done)
{
    if (path_.empty()) return;
    try {
        // Its folder made as write_file_atomically would, before the lock file goes in it.
        std::error_code error;
        std::filesystem::path parent = std::filesystem::path(path_).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent, error);
        if (error) fail("cannot make the folder {}: {}", parent.string(), error.message());
        FileLock lock(path_ + ".lock");
        PrometheusTextfile file = PrometheusTextfile::parse(read_small_file(path_, 64u << 20));
        if (outcome) file.record(check_, *outcome, now_seconds());
        if (all_domains_done) file.forget_other_domains(check_, seen_);
        // node_exporter runs as its own user: the file is readable by all.
        if (!write_file_atomically(path_, file.render(), 0644)) fail("cannot write {}", path_);
    } catch (const Error& e) {
        // The check's own result still stands; the tool fails at the end.
        report_error(fmt::format("--prometheus: {}", e.what()));
    }
}

} // namespace vmi
