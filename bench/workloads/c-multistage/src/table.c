#include "table.h"
#include <stdlib.h>
#include <string.h>

static unsigned long hash(const char *s) {
  unsigned long h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

void table_init(struct table *t, size_t nbuckets) {
  t->buckets = calloc(nbuckets, sizeof *t->buckets);
  t->nbuckets = nbuckets;
  t->nentries = 0;
}

void table_add(struct table *t, const char *word) {
  size_t b = hash(word) % t->nbuckets;
  for (struct entry *e = t->buckets[b]; e; e = e->next)
    if (strcmp(e->word, word) == 0) { e->count++; return; }
  struct entry *e = malloc(sizeof *e);
  e->word = strdup(word);
  e->count = 1;
  e->next = t->buckets[b];
  t->buckets[b] = e;
  t->nentries++;
}

static int by_count(const void *a, const void *b) {
  const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->word, y->word);
}

struct entry **table_sorted(const struct table *t) {
  struct entry **v = malloc((t->nentries + 1) * sizeof *v);
  size_t n = 0;
  for (size_t b = 0; b < t->nbuckets; b++)
    for (struct entry *e = t->buckets[b]; e; e = e->next) v[n++] = e;
  qsort(v, n, sizeof *v, by_count);
  v[n] = NULL;
  return v;
}

void table_free(struct table *t) {
  for (size_t b = 0; b < t->nbuckets; b++) {
    struct entry *e = t->buckets[b];
    while (e) { struct entry *n = e->next; free(e->word); free(e); e = n; }
  }
  free(t->buckets);
}
