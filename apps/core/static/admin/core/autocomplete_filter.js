'use strict';
// An autocomplete list filter (apps/core/admin.py, AutocompleteFilter): choosing a row, or
// clearing the choice, opens the list filtered by it, from its first page.
{
    const $ = django.jQuery;
    $(document).on('change', 'select.autocomplete-filter', function() {
        const url = new URL(window.location.href);
        url.searchParams.delete('p');
        if (this.value) {
            url.searchParams.set(this.name, this.value);
        } else {
            url.searchParams.delete(this.name);
        }
        window.location.assign(url.toString());
    });
}
