"""podforge.voices"""
