"""The room form of the admin, with the layout editor: a grid of rows x seats per row sent as one
field, whatever the room's size, and two text fields that do the same from the keyboard."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.errors import InvalidInput

from . import services
from .layout import AISLE, CELL_CATEGORIES, MAX_ROWS, MAX_SEATS_PER_ROW, seat_cells
from .layout_input import RoomLayout, read_layout
from .models import Room, SeatCategory

# Where a rule's error is shown: the service names what it checks, the form the field to fix.
FIELD_OF_ERROR = {
    "seats": "cells",
    "categories": "seat_lists",
    "labels": "labels",
    **dict.fromkeys(SeatCategory.values, "seat_lists"),
}


class LayoutEditor(forms.Widget):
    """The grid as one hidden JSON value, drawn and edited by layout_editor.js; without the
    script, the rows and seats per row fields and the label lists still make a room. Not a
    HiddenInput: the admin would hide its row, with the grid and its errors."""

    template_name = "rooms/widgets/layout_editor.html"

    class Media:
        css = {"all": ["rooms/layout_editor.css"]}
        js = ["rooms/layout_editor.js"]

    def get_context(self, name: str, value: Any, attrs: dict | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["config_id"] = f"{context['widget']['attrs']['id']}-config"
        context["editor"] = {
            "aisle": AISLE,
            "cells": {cell: str(SeatCategory(c).label) for cell, c in CELL_CATEGORIES.items()},
            "minimum": settings.MIN_SEATS_PER_SESSION,
            "text": {
                "aisle": gettext("aisle"),
                "screen": gettext("screen"),
                "tools": gettext("Tool applied by a click on a place"),
                "row": gettext("Row %(row)s: apply the chosen tool"),
                "column": gettext("Seat %(number)s of every row: apply the chosen tool"),
                "summary": gettext("%(seats)d seats, %(sellable)d for sale."),
                "too_few": gettext(
                    "Below the %(min)d seats for sale that a session needs: no session can be "
                    "scheduled in this room."
                ),
            },
        }
        return context


def _lines(label: str, text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=text,
    )


def room_cells(room: Room) -> tuple[int, int, list[str], dict[str, str]] | None:
    return seat_cells(list(room.seats.values_list("row", "number", "label", "category")))


def fits_grid(room: Room) -> bool:
    return room_cells(room) is not None


class RoomForm(forms.ModelForm):
    rows = forms.IntegerField(label=_("Rows"), min_value=1, max_value=MAX_ROWS, initial=10)
    seats_per_row = forms.IntegerField(
        label=_("Seats per row"), min_value=1, max_value=MAX_SEATS_PER_ROW, initial=12
    )
    cells = forms.CharField(label=_("Seats"), required=False, widget=LayoutEditor)
    seat_lists = _lines(
        _("Seat lists"),
        _(
            "Seats by row and number, after the grid: “wheelchair: A1, A2; companion: A3; "
            "blocked: C5-C8; aisle: A4, B4”. Categories: standard, wheelchair, companion, "
            "blocked; aisle leaves no seat there."
        ),
    )
    labels = _lines(
        _("Labels"),
        _("A seat's label is its row and number (C7); give another one here: “A1=VIP1, A2=VIP2”."),
    )
    # Set by the admin: once sessions exist, only categories may change.
    layout_fixed = False

    class Meta:
        model = Room
        fields = ["cinema", "name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.layout: RoomLayout | None = None
        if self.instance.pk:
            self._start_from_room()

    def _start_from_room(self) -> None:
        drawn = room_cells(self.instance)
        if drawn is None:
            # Made through the API with rows past Z or long rows: the page shows it, the API
            # changes it.
            for name in ("rows", "seats_per_row", "cells", "seat_lists", "labels"):
                del self.fields[name]
            return
        rows, seats_per_row, cells, labels = drawn
        self.initial.update(
            rows=rows,
            seats_per_row=seats_per_row,
            cells=json.dumps(cells),
            labels=", ".join(f"{seat}={label}" for seat, label in labels.items()),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "cells" not in self.fields or {"rows", "seats_per_row"} & set(self.errors):
            return data
        try:
            layout = read_layout(
                rows=data["rows"],
                seats_per_row=data["seats_per_row"],
                cells=data.get("cells", ""),
                seat_lists=data.get("seat_lists", ""),
                labels=data.get("labels", ""),
            )
            services.room_layout_check(
                positions=layout.positions,
                categories=layout.categories,
                labels=layout.labels,
                fixed_room=self.instance if self.layout_fixed else None,
            )
        except InvalidInput as error:
            field = FIELD_OF_ERROR.get(error.field or "", error.field)
            self.add_error(
                field if field in self.fields else None,
                forms.ValidationError(str(error.detail), code=error.code),
            )
        else:
            self.layout = layout
        return data
