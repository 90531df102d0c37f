#pragma once
// The check modes' metrics in node_exporter's textfile format (the Prometheus
// text exposition format, one file that several checks update in turn):
//   vmi_check_findings{domain,check}          what the check found (hidden tasks,
//                                             modules, hooks)
//   vmi_check_errors{domain,check}            errors of its last run (a view that
//                                             broke off; 1 when the guest could not be read)
//   vmi_check_duration_seconds{domain,check}  how long its last run took
//   vmi_check_last_success_timestamp_seconds{domain}
//                                             when a check of the domain last ran to its end
// parse() keeps the series of a file written here (other lines are dropped),
// record() puts one run's outcome in, render() writes the file's text.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vmi {

// What one check did on one domain.
struct CheckOutcome {
    std::string domain;       // the VM's name (or the image, socket or Xen domain id it was given as)
    std::size_t findings = 0; // hidden tasks, hidden modules, hook findings
    std::size_t errors = 0;   // 0 when the check ran to its end
    double seconds = 0;       // how long it took
    bool completed = false;   // it ran to its end (exit 0 or 1)
};

class PrometheusTextfile {
public:
    static PrometheusTextfile parse(std::string_view text);

    // The outcome of `check` ("processes", "modules", "hooks") on one domain,
    // at `now` (seconds since the epoch).
    void record(std::string_view check, const CheckOutcome& outcome, double now);
    // After a run over every domain (--all-domains): drops `check`'s series of
    // the domains that run did not see, and a domain's timestamp once no
    // check has a series of it.
    void forget_other_domains(std::string_view check, const std::vector<std::string>& seen);

    std::string render() const;

    // "domain" (and "check") label values of the per-check series, for tests.
    using Key = std::pair<std::string, std::string>; // domain, check
    const std::map<Key, CheckOutcome>& checks() const { return checks_; }
    const std::map<std::string, double>& last_success() const { return last_success_; }

private:
    std::map<Key, CheckOutcome> checks_;
    std::map<std::string, double> last_success_;
};

// A label value as the text format wants it: \, " and newline escaped.
std::string prometheus_label_value(std::string_view value);

} // namespace vmi
