#ifndef TABLE_H
#define TABLE_H
#include <stddef.h>

struct entry { char *word; unsigned long count; struct entry *next; };
struct table { struct entry **buckets; size_t nbuckets, nentries; };

void table_init(struct table *t, size_t nbuckets);
void table_add(struct table *t, const char *word);
struct entry **table_sorted(const struct table *t);
void table_free(struct table *t);
#endif
