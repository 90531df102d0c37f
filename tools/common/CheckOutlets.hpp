#pragma once
// Where the check modes (vmi-ps, vmi-lsmod, vmi-hooks --check) report besides
// stdout:
// - --prometheus FILE: the node_exporter textfile that every check of every
//   domain updates in turn (PrometheusTextfile.hpp);
// - the journal: each finding and error as a structured entry, under systemd
//   (--journal, CheckJournal.hpp).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/CheckJournal.hpp"
#include "common/GuestOptions.hpp"
#include "common/PrometheusTextfile.hpp"

namespace vmi {

struct CheckOutletOptions {
    std::string prometheus;      // --prometheus FILE
    std::string journal{"auto"}; // --journal auto|yes|no

    // Whether any was asked for (they go with --check only).
    bool given() const { return !prometheus.empty() || journal != "auto"; }
};

void add_check_outlet_options(CLI::App& app, CheckOutletOptions& options);

// A check's result on one domain: its exit status (0, 1 or 2), what it found,
// how many errors it reported, and its findings and errors as journal entries
// (VMI_DOMAIN and VMI_CHECK are added here).
struct CheckStatus {
    int exit = 2;
    std::size_t findings = 0;
    std::size_t errors = 0;
    std::vector<JournalEntry> journal;
};

// The name a one-guest check reports under: the VM, else the image, the QMP
// socket, "domid:N" or "qemu-pid:N".
std::string domain_label(const GuestOptions& options);

class CheckOutlets {
public:
    // `check`: "processes", "modules" or "hooks". Checks --journal's value.
    CheckOutlets(const CheckOutletOptions& options, std::string check);

    // Runs one domain's check, timed, and reports its outcome. A vmi::Error out
    // of `run` is an outcome too (the guest could not be read): reported, then
    // passed on.
    CheckStatus measure(const std::string& domain, const std::function<CheckStatus()>& run);
    // After --all-domains: the domains not checked in this run leave the textfile.
    void finish_all_domains();

private:
    void write_textfile(const CheckOutcome* outcome, bool all_domains_done);
    void journal(const std::string& domain, const std::vector<JournalEntry>& entries);

    std::string path_;
    bool journal_ = false;
    std::string check_;
    std::vector<std::string> seen_;
};

} // namespace vmi
