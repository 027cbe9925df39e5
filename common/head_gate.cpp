#include "common/head_gate.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace dfs {
namespace {

using std::chrono::milliseconds;


}  // namespace

HeadGate::HeadGate(Timeouts timeouts, Ready ready, std::function<bool()> open)
    : timeouts_(timeouts),
      ready_(std::move(ready)),
      open_(std::move(open)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { Run(); });
}

HeadGate::~HeadGate() { Stop(); }

void HeadGate::Accepted(std::shared_ptr<Connection> connection) {
  Entry entry;
  entry.connection = std::move(connection);
  entry.handshaking = true;
  entry.deadline = Clock::now() + timeouts_.head;
  entry.head_started = true;  // the connection's clock runs from accept
  Add(std::move(entry));
}

void HeadGate::KeepAlive(std::shared_ptr<Connection> connection) {
  Entry entry;
  entry.head_started = !connection->received.empty();  // a pipelined request
  entry.deadline = Clock::now() + (entry.head_started ? timeouts_.head : timeouts_.idle);
  entry.connection = std::move(connection);
  Add(std::move(entry));
}

void HeadGate::Add(Entry entry) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopped_) {
      incoming_.push_back(std::move(entry));
      entry.connection = nullptr;
    }
  }
  if (entry.connection) {
    entry.connection->transport->Close(false);
    return;
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void HeadGate::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

bool HeadGate::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

size_t HeadGate::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

void HeadGate::Refuse(Entry& entry, int status, const std::string& message) {
  Transport& transport = *entry.connection->transport;
  DFS_LOG(WARN, "http") << PeerOf(transport.fd()) << " " << status << ": " << message;
  // Best effort without waiting: the answer is small and the socket's
  // buffer empty, unless the client does not read at all.
  const std::string answer = RefusalAnswer(status, message);
  Transport::Wait wait;
  for (size_t sent = 0; sent < answer.size();) {
    ssize_t n = transport.Send(answer.data() + sent, answer.size() - sent, &wait);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  transport.Close(false);
}

HeadGate::Outcome HeadGate::Progress(Entry& entry) {
  Connection& c = *entry.connection;
  entry.try_now = false;
  if (entry.handshaking) {
    if (!c.transport->Handshake(&entry.wait)) {
      if (entry.wait != Transport::Wait::kNone) return Outcome::kWaiting;
      c.transport->Close(false);  // not TLS, or a bad handshake
      return Outcome::kClosed;
    }
    entry.handshaking = false;
    entry.head_started = false;  // from now on: the first byte within the idle timeout
    entry.deadline = std::min(entry.deadline, Clock::now() + timeouts_.idle);
  }
  if (c.received.find(kHeadEnd) != std::string::npos) return Outcome::kReady;  // pipelined
  char buf[16 * 1024];
  for (;;) {
    if (c.received.size() > ServerStream::kMaxHeadBytes) {
      Refuse(entry, 431, "request line and headers over " + std::to_string(ServerStream::kMaxHeadBytes) + " bytes");
      return Outcome::kClosed;
    }
    entry.wait = Transport::Wait::kNone;
    ssize_t n = c.transport->Recv(buf, sizeof buf, &entry.wait);
    if (n > 0) {
      if (!entry.head_started) {
        entry.head_started = true;
        entry.deadline = Clock::now() + timeouts_.head;
      }
      // Only the new bytes (and the 3 before them) can complete the end:
      // a head trickled byte by byte is not searched over and over.
      size_t from = c.received.size() < kHeadEnd.size() ? 0 : c.received.size() - (kHeadEnd.size() - 1);
      c.received.append(buf, static_cast<size_t>(n));
      if (c.received.find(kHeadEnd, from) != std::string::npos) return Outcome::kReady;
      continue;
    }
    if (n < 0 && entry.wait != Transport::Wait::kNone) return Outcome::kWaiting;
    c.transport->Close(false);  // the client closed, or the connection failed
    return Outcome::kClosed;
  }
}

void HeadGate::Run() {
  std::vector<Entry> entries;
  std::vector<pollfd> fds;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& e : incoming_) entries.push_back(std::move(e));
      incoming_.clear();
      if (!stopped_ && !open_()) stopped_ = true;
      if (stopped_) {
        for (auto& e : entries) e.connection->transport->Close(false);
        held_ = 0;
        return;
      }
    }
    // Progress what can move, then expire deadlines.
    const auto now = Clock::now();
    for (size_t i = 0; i < entries.size();) {
      Entry& e = entries[i];
      Outcome outcome = Outcome::kWaiting;
      if (e.try_now) outcome = Progress(e);
      if (outcome == Outcome::kWaiting && now >= e.deadline) {
        if (e.handshaking) {
          DFS_LOG(WARN, "http") << PeerOf(e.connection->transport->fd()) << " TLS handshake not done within "
                                << timeouts_.head.count() << " ms: closed";
          e.connection->transport->Close(false);
        } else if (!e.head_started) {
          e.connection->transport->Close(false);  // idle: nothing of a request came
        } else {
          Refuse(e, 408, "request line and headers not received within " + std::to_string(timeouts_.head.count()) +
                             " ms");
        }
        outcome = Outcome::kClosed;
      }
      if (outcome == Outcome::kReady) ready_(std::move(e.connection));
      if (outcome == Outcome::kWaiting) {
        ++i;
        continue;
      }
      entries[i] = std::move(entries.back());
      entries.pop_back();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = entries.size();
    }
    // Wait for a socket, a new entry, or the nearest deadline.
    auto next = Clock::now() + milliseconds(1000);
    fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
    for (const auto& e : entries) {
      next = std::min(next, e.deadline);
      short events = e.wait == Transport::Wait::kWritable ? POLLOUT : POLLIN;
      fds.push_back(pollfd{e.connection->transport->fd(), events, 0});
    }
    bool pending = std::any_of(entries.begin(), entries.end(),
                               [](const Entry& e) { return e.connection->transport->HasPending(); });
    auto wait_ms = std::chrono::duration_cast<milliseconds>(next - Clock::now()).count();
    int rc = ::poll(fds.data(), fds.size(), pending ? 0 : static_cast<int>(std::max<long long>(wait_ms + 1, 0)));
    if (rc < 0 && errno != EINTR) DFS_LOG(ERROR, "http") << "head gate poll failed: " << std::strerror(errno);
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      (void)!::read(wake_.get(), &count, sizeof count);
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      if (fds[i + 1].revents != 0 || entries[i].connection->transport->HasPending()) entries[i].try_now = true;
    }
  }
}

}  // namespace dfs
