// Status and Result<T>: how every fallible uswap call reports failure.
//
// Modelled on LevelDB's Status: an OK status holds no heap memory, so
// returning Status::OK() is free. A non-OK status carries a code and one
// message that names the problem (the field, the file, the value). The
// library never throws; misuse that is a programming error goes to
// USWAP_CHECK (log, backtrace, abort) instead.
//
// Thread-safety: a Status or Result is a value; distinct objects may be used
// from distinct threads without synchronisation.
#pragma once

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace uswap {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,         // a file, area or entry does not exist
    kCorruption,       // bytes on disk (or read back) are not what they must be
    kInvalidArgument,  // the caller passed something that cannot work
    kIOError,          // the OS refused an I/O call
    kNoSpace,          // no free slot, frame or room on the device
    kNotSupported,     // the kernel or build lacks a needed feature
    kBusy,             // the resource is held by someone else (kernel, another process)
  };

  Status() noexcept = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status NoSpace(std::string_view msg) { return Status(Code::kNoSpace, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }

  // Maps an errno value from a failed call to a Status: ENOENT -> NotFound,
  // ENOSPC -> NoSpace, EBUSY/EWOULDBLOCK -> Busy, EINVAL -> InvalidArgument,
  // ENOSYS/EOPNOTSUPP -> NotSupported, anything else -> IOError. The message is
  // "<context>: <strerror(err)>".
  static Status FromErrno(std::string_view context, int err);

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsNoSpace() const { return code() == Code::kNoSpace; }
  bool IsNotSupported() const { return code() == Code::kNotSupported; }
  bool IsBusy() const { return code() == Code::kBusy; }

  // The message alone ("" when OK).
  const std::string& message() const;
  // "OK" or "<Code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>" (OK stays OK).
  Status WithContext(std::string_view context) const;

  Status(const Status& o) : rep_(o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr) {}
  Status& operator=(const Status& o) {
    if (this != &o) rep_ = o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

 private:
  struct Rep {
    Code code;
    std::string msg;
  };
  Status(Code code, std::string_view msg)
      : rep_(std::make_unique<Rep>(Rep{code, std::string(msg)})) {}
  std::unique_ptr<Rep> rep_;  // null == OK
};

// Result<T>: a T or a non-OK Status. Use instead of out-parameters.
//   Result<SwapHeader> r = SwapHeader::Parse(page);
//   if (!r.ok()) return r.status();
//   use(*r);
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status::InvalidArgument("Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; OK when this holds a value.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace uswap

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define USWAP_RETURN_IF_ERROR(expr) \
  do {                              \
    ::uswap::Status _st = (expr);   \
    if (!_st.ok()) return _st;      \
  } while (0)

#define USWAP_CONCAT_INNER_(a, b) a##b
#define USWAP_CONCAT_(a, b) USWAP_CONCAT_INNER_(a, b)
// `USWAP_ASSIGN_OR_RETURN(auto x, F());` declares x from a Result or returns its Status.
#define USWAP_ASSIGN_OR_RETURN(lhs, expr) \
  USWAP_ASSIGN_OR_RETURN_IMPL_(USWAP_CONCAT_(_res_, __LINE__), lhs, expr)
#define USWAP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
