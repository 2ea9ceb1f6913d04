from django.contrib import admin
from modeltranslation.admin import TranslationAdmin

from .models import Movie


@admin.register(Movie)
class MovieAdmin(TranslationAdmin):
    list_display = ["title", "duration_minutes", "created_at"]
    search_fields = ["title_pt_br", "title_en", "synopsis_pt_br", "synopsis_en"]
    list_filter = ["created_at"]
    readonly_fields = ["created_at", "updated_at"]
