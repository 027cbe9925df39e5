// MasterSet: parsing the list and the failover round (see master_set.h).
#include "common/master_set.h"

namespace dfs {

namespace {
// Failures that happen before any byte of the request left this process.
bool NothingSent(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout:
    case httplib::Error::BindIPAddress:
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLLoadingCerts:
    case httplib::Error::SSLServerVerification:
      return true;
    default:
      return false;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

namespace {
Reach ReachOfAnswer(int http_status) {
  if (http_status == 503) return Reach::kUnavailable;
  if (http_status == 502 || http_status == 504) return Reach::kMaybeDone;
  return Reach::kAnswered;
}
}  // namespace

MasterAttempt AttemptFromResponse(int http_status, const std::string& body) {
  return {StatusFromResponse(http_status, body), ReachOfAnswer(http_status)};
}

MasterAttempt AttemptFrom(const httplib::Result& result) {
  MasterAttempt a{StatusFromResult(result), Reach::kAnswered};
  if (!result) {
    // Canceled: this process's own body source or sink gave up; not the master's doing.
    if (result.error() == httplib::Error::Canceled) return a;
    a.reach = NothingSent(result.error()) ? Reach::kNotSent : Reach::kMaybeDone;
    return a;
  }
  a.reach = ReachOfAnswer(result->status);
  return a;
}

MasterAttempt Answered(Status status) { return {std::move(status), Reach::kAnswered}; }

bool MayResend(const MasterAttempt& attempt, Resend resend) {
  return attempt.reach != Reach::kMaybeDone || resend == Resend::kSafe;
}

Result<std::shared_ptr<MasterSet>> MasterSet::Parse(std::string_view list) {
  std::vector<Endpoint> masters;
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = Trim(list.substr(0, comma));
    if (!item.empty()) {
      auto ep = ParseEndpoint(item);
      if (!ep.ok()) return Status::InvalidArgument("bad master URL '" + std::string(item) + "': " + ep.status().message());
      masters.push_back(*ep);
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (masters.empty()) return Status::InvalidArgument("no master URL given");
  return std::make_shared<MasterSet>(std::move(masters));
}

MasterSet::MasterSet(std::vector<Endpoint> masters) : masters_(std::move(masters)) {}

std::string MasterSet::ToString() const {
  std::string out;
  for (const auto& m : masters_) out += (out.empty() ? "" : ",") + m.ToUrl();
  return out;
}

MasterAttempt MasterSet::Call(Resend resend, const std::function<MasterAttempt(const Endpoint&)>& attempt) const {
  const size_t n = masters_.size();
  size_t start = current_.load();
  MasterAttempt last;
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (start + i) % n;
    last = attempt(masters_[index]);
    if (last.reach == Reach::kAnswered) {
      current_.store(index);
      return last;
    }
    if (n > 1) {
      // Later requests start at the next master, unless another thread moved on already.
      size_t expected = index;
      current_.compare_exchange_strong(expected, (index + 1) % n);
      last.status = Status(last.status.code(), masters_[index].ToUrl() + ": " + last.status.message());
    }
    if (!MayResend(last, resend)) {
      last.status = Status::Unavailable(last.status.message() +
                                        " (the request may have been carried out; not sent again)");
      return last;
    }
  }
  return last;
}

}  // namespace dfs
