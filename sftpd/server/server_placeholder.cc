// Placeholder translation unit until the server sources land.
namespace sftplc::server {}
