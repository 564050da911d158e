#include "uswap/status.h"

#include <cstring>

namespace uswap {

namespace {
const char* CodeName(Status::Code c) {
  switch (c) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kIOError:
      return "IOError";
    case Status::Code::kNoSpace:
      return "NoSpace";
    case Status::Code::kNotSupported:
      return "NotSupported";
    case Status::Code::kBusy:
      return "Busy";
  }
  return "Unknown";
}
}  // namespace

Status Status::FromErrno(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  switch (err) {
    case ENOENT:
      return NotFound(msg);
    case ENOSPC:
      return NoSpace(msg);
    case EBUSY:
    case EWOULDBLOCK:
      return Busy(msg);
    case EINVAL:
      return InvalidArgument(msg);
    case ENOSYS:
    case EOPNOTSUPP:
      return NotSupported(msg);
    default:
      return IOError(msg);
  }
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->msg : kEmpty;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(rep_->code)) + ": " + rep_->msg;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += rep_->msg;
  return Status(rep_->code, msg);
}

}  // namespace uswap
