from django.urls import path

from buildings import setup

app_name = "setup"
urlpatterns = [
    path("", setup.building_list, name="buildings"),
    path("new/", setup.building_new, name="new"),
    path("<int:building_id>/", setup.building_edit, name="edit"),
    path("<int:building_id>/archive/", setup.building_archive, name="archive"),
    path("<int:building_id>/units/", setup.building_units, name="units"),
    path("owners/", setup.owners, name="owners"),
    path("import/", setup.import_csv, name="import"),
    path("import/confirm/", setup.import_confirm, name="import_confirm"),
    path("import/cancel/", setup.import_cancel, name="import_cancel"),
    path("import/sample.csv", setup.import_sample, name="import_sample"),
    path("export/", setup.export_csv, name="export"),
]
