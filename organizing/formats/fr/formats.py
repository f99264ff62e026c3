"""How French pages write dates and times: the day before the month, 14 h 30."""

DATE_FORMAT = "j N Y"
DATETIME_FORMAT = "j N Y, H \\h i"
MONTH_DAY_FORMAT = "j N"
SHORT_DATE_FORMAT = "D j N"
SHORT_DATETIME_FORMAT = "D j N, H \\h i"
TIME_FORMAT = "H \\h i"
YEAR_MONTH_FORMAT = "F Y"
# The next visit's day on the Talked form: « sam 30 janv. » (organizing.formats.our_format).
SHORT_DAY_FORMAT = "D j N"

# What forms read and what their date and time inputs are filled with: the ISO forms an
# <input type="date"> or "datetime-local" sends and expects, in every language.
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]
