"""podforge.script"""
