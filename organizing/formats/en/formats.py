"""How English pages write dates and times: as Canadian English (CLDR en-CA) does, the month
by its name so that no one reads 04/12 two ways."""

DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y, H:i"
MONTH_DAY_FORMAT = "M j"
SHORT_DATE_FORMAT = "D M j"
SHORT_DATETIME_FORMAT = "D M j, H:i"
TIME_FORMAT = "H:i"
YEAR_MONTH_FORMAT = "F Y"
# The next visit's day on the Talked form, "Tue 8 Dec": the day before the month, as the
# organizers read it at the door (organizing.formats.our_format).
SHORT_DAY_FORMAT = "D j M"

# What forms read and what their date and time inputs are filled with: the ISO forms an
# <input type="date"> or "datetime-local" sends and expects, in every language.
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]
