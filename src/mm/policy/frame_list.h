// FrameLists: the intrusive doubly linked lists of a reclaim policy, over
// PageFrame::prev/next (CacheLib's DList over mmHook_; the kernel's
// list_head lru). Lists are numbered 1..N and PageFrame::list says which
// one holds a frame (0 = none: isolated or new). Head = most recently
// pushed, tail = oldest.
//
// Thread-safety: none; the owning policy's lock guards it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/check.h"
#include "mm/page_frame.h"

namespace uswap {

template <int N>
class FrameLists {
  static_assert(N >= 1 && N <= 7, "PageFrame::list numbers lists 1..7");

 public:
  PageFrame* Head(uint8_t id) const { return L(id).head; }
  PageFrame* Tail(uint8_t id) const { return L(id).tail; }
  size_t size(uint8_t id) const { return L(id).size; }

  // REQUIRES: f on no list.
  void PushHead(uint8_t id, PageFrame* f) {
    USWAP_DCHECK(f->list == 0);
    List& l = L(id);
    f->prev = nullptr;
    f->next = l.head;
    if (l.head) l.head->prev = f;
    l.head = f;
    if (!l.tail) l.tail = f;
    l.size++;
    f->list = id;
  }
  // REQUIRES: f on one of these lists. Leaves it on none (list = 0).
  void Unlink(PageFrame* f) {
    List& l = L(f->list);
    if (f->prev)
      f->prev->next = f->next;
    else
      l.head = f->next;
    if (f->next)
      f->next->prev = f->prev;
    else
      l.tail = f->prev;
    f->prev = f->next = nullptr;
    l.size--;
    f->list = 0;
  }

 private:
  struct List {
    PageFrame* head = nullptr;
    PageFrame* tail = nullptr;
    size_t size = 0;
  };
  List& L(uint8_t id) {
    USWAP_DCHECK(id >= 1 && id <= N);
    return lists_[id - 1];
  }
  const List& L(uint8_t id) const {
    USWAP_DCHECK(id >= 1 && id <= N);
    return lists_[id - 1];
  }
  std::array<List, N> lists_;
};

}  // namespace uswap
