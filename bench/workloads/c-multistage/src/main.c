/* wordfreq: the ten most frequent words on standard input. */
#include "table.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  struct table t;
  char word[256];
  size_t len = 0;
  int c;
  table_init(&t, 4096);
  while ((c = getchar()) != EOF) {
    if (isalnum(c) && len < sizeof word - 1) {
      word[len++] = (char)tolower(c);
    } else if (len > 0) {
      word[len] = '\0';
      table_add(&t, word);
      len = 0;
    }
  }
  if (len > 0) { word[len] = '\0'; table_add(&t, word); }
  struct entry **v = table_sorted(&t);
  for (int i = 0; i < 10 && v[i]; i++) printf("%7lu %s\n", v[i]->count, v[i]->word);
  free(v);
  table_free(&t);
  return 0;
}
