/*-------------------------------------------------------------------------
 *
 * sort_template.h
 *	  One stable merge sort for the core's three arrays: a room's 12-byte
 *	  events, its 64-bit narrow keys, the account-wide endpoints.
 *
 * Include after defining
 *	  SORT_NAME			the function to define: static void SORT_NAME(
 *						SORT_TYPE *a, size_t n, SORT_TYPE *tmp), tmp
 *						holding n elements
 *	  SORT_TYPE			the element type
 *	  SORT_LESS(x, y)	x sorts before y (x, y are lvalues of SORT_TYPE)
 *
 * Runs of 16 are sorted by insertion, then merged bottom-up between a and
 * tmp; a merge of two runs already in order is one copy, so rows logged
 * in time order cost little.  Ties keep their order.  Long loops call
 * CB_INTERRUPT_POINT every CB_INTERRUPT_BLOCK elements (event.h).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "event.h"

#define SORT_RUN 16

static void
SORT_NAME(SORT_TYPE *a, size_t n, SORT_TYPE *tmp)
{
	SORT_TYPE  *src = a,
			   *dst = tmp;
	size_t		width,
				lo;

	for (lo = 0; lo < n; lo += SORT_RUN)
	{
		size_t		hi = (lo + SORT_RUN < n) ? lo + SORT_RUN : n;
		size_t		i;

		if ((lo & (CB_INTERRUPT_BLOCK - 1)) == 0)
			CB_INTERRUPT_POINT();
		for (i = lo + 1; i < hi; i++)
		{
			SORT_TYPE	x = a[i];
			size_t		j = i;

			while (j > lo && SORT_LESS(x, a[j - 1]))
			{
				a[j] = a[j - 1];
				j--;
			}
			a[j] = x;
		}
	}
	for (width = SORT_RUN; width < n; width *= 2)
	{
		SORT_TYPE  *swap;

		for (lo = 0; lo < n; lo += 2 * width)
		{
			size_t		mid = (lo + width < n) ? lo + width : n;
			size_t		hi = (lo + 2 * width < n) ? lo + 2 * width : n;
			size_t		x = lo,
						y = mid,
						k = lo;

			if (mid >= hi || !SORT_LESS(src[mid], src[mid - 1]))
			{
				memcpy(dst + lo, src + lo, (hi - lo) * sizeof(SORT_TYPE));
				continue;
			}
			while (x < mid && y < hi)
			{
				size_t		stop = k + CB_INTERRUPT_BLOCK;

				while (x < mid && y < hi && k < stop)
					dst[k++] = SORT_LESS(src[y], src[x]) ? src[y++] : src[x++];
				CB_INTERRUPT_POINT();
			}
			if (x < mid)
				memcpy(dst + k, src + x, (mid - x) * sizeof(SORT_TYPE));
			else if (y < hi)
				memcpy(dst + k, src + y, (hi - y) * sizeof(SORT_TYPE));
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(SORT_TYPE));
}

#undef SORT_RUN
#undef SORT_NAME
#undef SORT_TYPE
#undef SORT_LESS
