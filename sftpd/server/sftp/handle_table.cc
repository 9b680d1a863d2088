#include "sftpd/server/sftp/handle_table.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sftpd/core/base/ids.h"
#include "sftpd/server/sftp/wire.h"

namespace sftplc::sftp {

HandleTable::HandleTable(int capacity) : slots_(static_cast<std::size_t>(std::max(capacity, 1))) {
  RandomBytes(&rng_, sizeof rng_);
}

uint32_t HandleTable::NextNonce() {
  // splitmix64: unpredictable enough for handles (the seed comes from getrandom), and nonzero.
  for (;;) {
    uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    uint32_t v = static_cast<uint32_t>((z ^ (z >> 31)) >> 16);
    if (v != 0) {
      return v;
    }
  }
}

std::optional<std::size_t> HandleTable::FreeSlot() {
  if (full()) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i].in_use) {
      return i;
    }
  }
  return std::nullopt;
}

void HandleTable::WriteHandle(std::size_t index, char handle[kHandleLength]) const {
  StoreU32(handle, static_cast<uint32_t>(index));
  StoreU32(handle + 4, slots_[index].nonce);
}

bool HandleTable::AddFile(files::UniqueFd fd, bool readable, bool writable,
                          char handle[kHandleLength]) {
  auto i = FreeSlot();
  if (!i) {
    return false;
  }
  OpenHandle& h = slots_[*i];
  h = OpenHandle{};
  h.in_use = true;
  h.nonce = NextNonce();
  h.fd = std::move(fd);
  h.readable = readable;
  h.writable = writable;
  ++open_;
  WriteHandle(*i, handle);
  return true;
}

bool HandleTable::AddDir(std::unique_ptr<files::Directory> dir, char handle[kHandleLength]) {
  auto i = FreeSlot();
  if (!i) {
    return false;
  }
  OpenHandle& h = slots_[*i];
  h = OpenHandle{};
  h.in_use = true;
  h.is_dir = true;
  h.nonce = NextNonce();
  h.dir = std::move(dir);
  ++open_;
  WriteHandle(*i, handle);
  return true;
}

OpenHandle* HandleTable::Find(std::string_view handle) {
  if (handle.size() != kHandleLength) {
    return nullptr;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(handle.data());
  uint32_t index = LoadU32(p);
  uint32_t nonce = LoadU32(p + 4);
  if (index >= slots_.size()) {
    return nullptr;
  }
  OpenHandle& h = slots_[index];
  if (!h.in_use || h.nonce != nonce) {
    return nullptr;
  }
  return &h;
}

int HandleTable::Close(OpenHandle* h) {
  int err = 0;
  if (!h->is_dir && h->fd.valid()) {
    if (close(h->fd.release()) != 0) {
      err = errno;
    }
  }
  h->dir.reset();
  h->in_use = false;
  h->nonce = 0;
  --open_;
  return err;
}

std::vector<OpenHandle*> HandleTable::OpenEntries() {
  std::vector<OpenHandle*> v;
  for (OpenHandle& h : slots_) {
    if (h.in_use) {
      v.push_back(&h);
    }
  }
  return v;
}

}  // namespace sftplc::sftp
