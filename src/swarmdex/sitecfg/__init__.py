"""What the operator changes from the admin page: the site's name, whether registration is
open, the upload size limit (`site_settings`, overriding the configuration file), and the
catalogue's categories.
"""
