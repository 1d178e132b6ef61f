import Glibc

/// The system's reason for a failed libgpiod call, as both backends word it: the message, the errno's
/// symbolic name and its number (`No such file or directory (errno ENOENT 2)`), so a user can search
/// for either.
func gpiodErrnoReason(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", ENXIO: "ENXIO", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
        EACCES: "EACCES", EBUSY: "EBUSY", ENODEV: "ENODEV", EINVAL: "EINVAL", ENOTTY: "ENOTTY",
        EOPNOTSUPP: "EOPNOTSUPP", EINTR: "EINTR", EBADF: "EBADF",
    ]
    let message = strerror(code).map { String(cString: $0) } ?? "error"
    if let name = names[code] { return "\(message) (errno \(name) \(code))" }
    return "\(message) (errno \(code))"
}
