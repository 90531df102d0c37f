// PrometheusTextfile: the check modes' node_exporter textfile, rendered,
// parsed back and merged run by run.
#include <doctest/doctest.h>

#include <string>

#include "common/PrometheusTextfile.hpp"

using vmi::CheckOutcome;
using vmi::PrometheusTextfile;

namespace {

CheckOutcome outcome(std::string domain, std::size_t findings, std::size_t errors, double seconds, bool completed)
{
    CheckOutcome o;
    o.domain = std::move(domain);
    o.findings = findings;
    o.errors = errors;
    o.seconds = seconds;
    o.completed = completed;
    return o;
}

} // namespace

TEST_CASE("prometheus textfile: one run renders the four families with HELP and TYPE")
{
    PrometheusTextfile file;
    file.record("processes", outcome("web1", 2, 0, 0.25, true), 1700000000.5);
    CHECK(file.render() ==
          "# HELP vmi_check_findings What the last run of a vmitools check found: hidden tasks, hidden modules or "
          "kernel hooks.\n"
          "# TYPE vmi_check_findings gauge\n"
          "vmi_check_findings{domain=\"web1\",check=\"processes\"} 2\n"
          "# HELP vmi_check_errors Errors of the last run of a vmitools check: views that broke off, 1 when the "
          "guest could not be read.\n"
          "# TYPE vmi_check_errors gauge\n"
          "vmi_check_errors{domain=\"web1\",check=\"processes\"} 0\n"
          "# HELP vmi_check_duration_seconds How long the last run of a vmitools check took.\n"
          "# TYPE vmi_check_duration_seconds gauge\n"
          "vmi_check_duration_seconds{domain=\"web1\",check=\"processes\"} 0.25\n"
          "# HELP vmi_check_last_success_timestamp_seconds When a vmitools check of the domain last ran to its "
          "end.\n"
          "# TYPE vmi_check_last_success_timestamp_seconds gauge\n"
          "vmi_check_last_success_timestamp_seconds{domain=\"web1\"} 1700000000.5\n");
}

TEST_CASE("prometheus textfile: label values are escaped and parse back to the same bytes")
{
    const std::string odd = "a \"quoted\" \\ back\nslash";
    CHECK(vmi::prometheus_label_value(odd) == "a \\\"quoted\\\" \\\\ back\\nslash");
    PrometheusTextfile file;
    file.record("hooks", outcome(odd, 1, 0, 1.5, true), 10);
    PrometheusTextfile again = PrometheusTextfile::parse(file.render());
    REQUIRE(again.checks().size() == 1);
    const auto& [key, got] = *again.checks().begin();
    CHECK(key.first == odd);
    CHECK(key.second == "hooks");
    CHECK(got.findings == 1);
    CHECK(got.seconds == 1.5);
    CHECK(again.last_success().at(odd) == 10);
    CHECK(again.render() == file.render());
}

TEST_CASE("prometheus textfile: a check's run replaces its own series and keeps the others'")
{
    PrometheusTextfile file;
    file.record("processes", outcome("web1", 0, 0, 0.1, true), 100);
    file.record("modules", outcome("web1", 1, 0, 0.2, true), 101);
    file.record("processes", outcome("db", 0, 0, 0.3, true), 102);
    PrometheusTextfile next = PrometheusTextfile::parse(file.render());
    // The guest could not be read this time: an error, and the old success time stays.
    next.record("processes", outcome("web1", 0, 1, 0.01, false), 200);
    CHECK(next.checks().size() == 3);
    CHECK(next.checks().at({"web1", "processes"}).errors == 1);
    CHECK(next.checks().at({"web1", "modules"}).findings == 1);
    CHECK(next.last_success().at("web1") == 101);
    CHECK(next.last_success().at("db") == 102);
}

TEST_CASE("prometheus textfile: after --all-domains a domain gone from the host leaves the file")
{
    PrometheusTextfile file;
    file.record("hooks", outcome("web1", 0, 0, 0.1, true), 1);
    file.record("hooks", outcome("old", 0, 0, 0.1, true), 1);
    file.record("modules", outcome("web1", 0, 0, 0.1, true), 1);
    file.forget_other_domains("hooks", {"web1"});
    CHECK(file.checks().size() == 2);
    CHECK_FALSE(file.checks().contains({"old", "hooks"}));
    CHECK(file.last_success().size() == 1);
    CHECK(file.last_success().contains("web1"));
}

TEST_CASE("prometheus textfile: lines not written here are dropped, never trusted")
{
    PrometheusTextfile file = PrometheusTextfile::parse(
        "# a comment\n"
        "vmi_check_findings{domain=\"a\",check=\"hooks\"} 3\n"
        "vmi_check_findings{domain=\"b\",check=\"hooks\"} NaN\n"          // not finite
        "vmi_check_findings{domain=\"c\",check=\"hooks\"} -1\n"           // negative
        "vmi_check_findings{domain=\"d\",check=\"hooks\",x=\"y\"} 1\n"    // a label too many
        "vmi_check_findings{domain=\"e\",check=\"hooks} 1\n"              // unterminated value
        "vmi_check_findings{domain=\"f\"} 1\n"                            // no check
        "vmi_check_findings{domain=\"g\",check=\"hooks\"} 1 1700000000\n" // a timestamp: not ours
        "other_metric{domain=\"h\",check=\"hooks\"} 1\n"
        "garbage\n"
        "vmi_check_last_success_timestamp_seconds{domain=\"a\"} 5");
    REQUIRE(file.checks().size() == 1);
    CHECK(file.checks().at({"a", "hooks"}).findings == 3);
    CHECK(file.last_success().at("a") == 5);
}
